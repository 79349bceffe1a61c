using System.Text;

namespace NsqTyped.Generators.Tests.Runtime;

/// <summary>Generated dispatchers deserialize with the topic's serializer and call the handler; failures propagate.</summary>
public sealed class DispatcherTests
{
    private readonly RecordingResponder _responder = new();
    private readonly RecordingHandlers _handlers = new();

    private IReadOnlyList<INsqHandlerDispatcher> Dispatchers => NsqTypedHandlers.Create(type => type == typeof(RecordingHandlers) ? _handlers : new DependentHandler(_handlers));

    private INsqHandlerDispatcher Get(string topic, string channel) =>
        Assert.Single(Dispatchers, d => d.Topic == topic && d.Channel == channel);

    [Fact]
    public void Registry_lists_one_dispatcher_per_handler_with_topic_channel_type_and_name()
    {
        var all = NsqTypedHandlers.All.Select(d => (d.Topic, d.Channel, d.MessageType, d.HandlerName)).OrderBy(d => d.Topic).ThenBy(d => d.Channel).ToArray();

        Assert.Equal(
            new[]
            {
                ("blobs", "storage", typeof(Blob), "NsqTyped.Generators.Tests.Runtime.RecordingHandlers.OnBlob"),
                ("log.lines", "archive", typeof(LogLine), "NsqTyped.Generators.Tests.Runtime.StaticLogHandlers.OnLine"),
                ("log.lines", "self", typeof(LogLine), "NsqTyped.Generators.Tests.Runtime.SelfContainedHandler.OnLine"),
                ("orders.cancelled", "refunds", typeof(OrderCancelledEvent), "NsqTyped.Generators.Tests.Runtime.RecordingHandlers.OnOrderCancelledAsync"),
                ("orders.created", "billing", typeof(OrderCreated), "NsqTyped.Generators.Tests.Runtime.RecordingHandlers.OnOrderCreatedAsync"),
                ("orders.created", "dependent", typeof(OrderCreated), "NsqTyped.Generators.Tests.Runtime.DependentHandler.OnOrderCreated"),
                ("stock.changed", "inventory", typeof(StockChanged), "NsqTyped.Generators.Tests.Runtime.RecordingHandlers.OnStockChanged"),
            },
            all);
    }

    [Fact]
    public async Task Dispatch_deserializes_JSON_and_passes_context_and_token()
    {
        using var cts = new CancellationTokenSource();
        var message = _responder.Message(Encoding.UTF8.GetBytes("{\"OrderId\":\"A-1\",\"Total\":12.5}"), attempts: 3);

        await Get("orders.created", "billing").DispatchAsync(message, services: null, cts.Token);

        Assert.Equal(new OrderCreated("A-1", 12.5m), Assert.Single(_handlers.Received));
        var context = Assert.Single(_handlers.Contexts);
        Assert.Same(message, context.Message);
        Assert.Equal(("orders.created", "billing", (ushort)3, message.Id), (context.Topic, context.Channel, context.Attempts, context.Id));
        Assert.Equal(cts.Token, _handlers.LastToken);
        Assert.Empty(_responder.Responses); // the dispatcher leaves FIN to the consumer
    }

    [Fact]
    public async Task Handler_can_requeue_through_the_context()
    {
        var message = _responder.Message(Encoding.UTF8.GetBytes("{\"OrderId\":\"A-2\",\"Reason\":\"retry-later\"}"));

        await Get("orders.cancelled", "refunds").DispatchAsync(message, null, TestContext.Current.CancellationToken);

        Assert.Equal($"REQ {message.Id} 3000 False", Assert.Single(_responder.Responses));
        Assert.True(message.HasResponded);
    }

    [Fact]
    public async Task Handler_exception_propagates_to_the_caller()
    {
        var message = _responder.Message(Encoding.UTF8.GetBytes("{\"OrderId\":\"A-3\",\"Reason\":\"boom\"}"));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await Get("orders.cancelled", "refunds").DispatchAsync(message, null, TestContext.Current.CancellationToken));

        Assert.Equal("handler failed for A-3", error.Message);
        Assert.False(message.HasResponded);
    }

    [Fact]
    public async Task Undeserializable_body_is_a_permanent_failure_before_the_handler_runs()
    {
        var message = _responder.Message(Encoding.UTF8.GetBytes("not json"));

        var error = await Assert.ThrowsAsync<NsqDeserializationException>(async () => await Get("orders.created", "billing").DispatchAsync(message, null, TestContext.Current.CancellationToken));

        Assert.IsAssignableFrom<NsqPermanentFailureException>(error);
        Assert.IsAssignableFrom<System.Text.Json.JsonException>(error.InnerException);
        Assert.Empty(_handlers.Received);
    }

    [Fact]
    public async Task Json_null_in_a_non_nullable_property_is_a_deserialization_error_not_a_null_for_the_handler()
    {
        var message = _responder.Message(Encoding.UTF8.GetBytes("{\"OrderId\":null,\"Total\":1}"));

        await Assert.ThrowsAsync<NsqDeserializationException>(async () => await Get("orders.created", "billing").DispatchAsync(message, null, TestContext.Current.CancellationToken));

        Assert.Empty(_handlers.Received);
    }

    [Fact]
    public async Task MessagePack_and_raw_bodies_reach_their_handlers()
    {
        await Get("stock.changed", "inventory").DispatchAsync(_responder.Message([0x92, 0xa1, (byte)'Q', 0x07]), null, TestContext.Current.CancellationToken);
        await Get("blobs", "storage").DispatchAsync(_responder.Message([9, 8, 7]), null, TestContext.Current.CancellationToken);

        var items = _handlers.Received.ToArray();
        var stock = Assert.IsType<StockChanged>(items[0]);
        Assert.Equal(("Q", 7), (stock.Sku, stock.Quantity));
        Assert.Equal(new byte[] { 9, 8, 7 }, Assert.IsType<byte[]>(items[1]));
    }

    [Fact]
    public async Task Static_and_parameterless_handlers_run_without_DI_or_factory()
    {
        var text = "line-" + Guid.NewGuid();

        await Assert.Single(NsqTypedHandlers.All, d => d.Channel == "archive").DispatchAsync(_responder.Message(Encoding.UTF8.GetBytes(text)), null, TestContext.Current.CancellationToken);
        await Assert.Single(NsqTypedHandlers.All, d => d.Channel == "self").DispatchAsync(_responder.Message(Encoding.UTF8.GetBytes(text)), null, TestContext.Current.CancellationToken);

        Assert.Contains(text, StaticLogHandlers.Lines);
        Assert.Contains(text, SelfContainedHandler.Seen);
    }

    [Fact]
    public void A_handlers_dead_letter_topic_is_on_its_dispatcher()
    {
        Assert.Equal("log.lines.dead", Assert.Single(NsqTypedHandlers.All, d => d.Channel == "self").DeadLetterTopic);
        Assert.Null(Assert.Single(NsqTypedHandlers.All, d => d.Channel == "archive").DeadLetterTopic);
    }

    [Fact]
    public async Task Without_DI_or_factory_one_handler_instance_serves_every_message_of_a_dispatcher()
    {
        var dispatcher = Assert.Single(NsqTypedHandlers.Create(null), d => d.Channel == "self");
        var lines = Enumerable.Range(0, 3).Select(i => $"shared-{i}-{Guid.NewGuid()}").ToList();

        foreach (var line in lines)
        {
            await dispatcher.DispatchAsync(_responder.Message(Encoding.UTF8.GetBytes(line)), null, TestContext.Current.CancellationToken);
        }

        Assert.Single(lines.Select(l => SelfContainedHandler.HandledBy[l]).Distinct());
    }

    [Fact]
    public async Task Instance_handler_without_parameterless_constructor_is_resolved_from_the_service_provider()
    {
        var services = new DictionaryServiceProvider(new() { [typeof(DependentHandler)] = new DependentHandler(_handlers) });
        var dispatcher = Assert.Single(NsqTypedHandlers.All, d => d.Channel == "dependent");

        await dispatcher.DispatchAsync(_responder.Message(Encoding.UTF8.GetBytes("{\"OrderId\":\"D-1\",\"Total\":2}")), services, TestContext.Current.CancellationToken);

        Assert.Equal(new OrderCreated("D-1", 2m), Assert.Single(_handlers.Received));
    }

    [Fact]
    public async Task Instance_handler_without_any_way_to_get_an_instance_throws_a_clear_error()
    {
        var dispatcher = Assert.Single(NsqTypedHandlers.All, d => d.Channel == "dependent");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await dispatcher.DispatchAsync(_responder.Message(Encoding.UTF8.GetBytes("{\"OrderId\":\"D-2\",\"Total\":2}")), null, TestContext.Current.CancellationToken));

        Assert.Contains("AddNsqTypedHandlers", error.Message, StringComparison.Ordinal);
    }
}
