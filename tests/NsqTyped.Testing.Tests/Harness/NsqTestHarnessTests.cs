using System.Text;
using Microsoft.Extensions.DependencyInjection;

namespace NsqTyped.Testing.Tests.Harness;

/// <summary>
/// The harness as an application's test uses it: generated handlers on an embedded nsqd, typed waits,
/// captured publishes; and the generated StartAllAsync and ReadAllAsync&lt;T&gt; it builds on.
/// </summary>
public sealed class NsqTestHarnessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Handlers_see_every_message_published_after_start_and_the_waits_return_what_was_handled()
    {
        var runId = Seen.NewRun();
        await using var receipts = new NsqProducerHolder();
        await using var harness = await NsqTestHarness.StartAsync(
            NsqTypedHandlers.Create(_ => new Billing(receipts)),
            cancellationToken: TestContext.Current.CancellationToken);
        receipts.Target = harness.Producer;

        await harness.Producer.PublishAsync(new OrderPlaced(runId, 1), TestContext.Current.CancellationToken);
        await harness.Producer.PublishOrderPlacedManyAsync([new(runId, 2), new(runId, 3)], TestContext.Current.CancellationToken);

        var billed = await harness.WaitForHandledAsync(NsqTypedHandlers.Billing_OnOrderPlacedAsync, 3, Timeout);
        var all = await harness.WaitForHandledAsync<OrderPlaced>(6, Timeout);
        Assert.Equal([1, 2, 3], billed.Select(m => Number(m.Body)).Order());
        Assert.All(billed, m => Assert.Equal("billing", m.Handler.Channel));
        Assert.Equal(6, all.Count);
        Assert.Equal(["billed 1 (attempt 1)", "billed 2 (attempt 1)", "billed 3 (attempt 1)", "shipped 1", "shipped 2", "shipped 3"], Seen.Of(runId).Order(StringComparer.Ordinal));
        harness.ThrowIfAnyGivenUp();
    }

    [Fact]
    public async Task Published_messages_of_a_type_are_captured_deserialized()
    {
        var runId = Seen.NewRun();
        await using var receipts = new NsqProducerHolder();
        await using var harness = await NsqTestHarness.StartAsync(
            NsqTypedHandlers.Create(_ => new Billing(receipts)),
            cancellationToken: TestContext.Current.CancellationToken);
        receipts.Target = harness.Producer;
        await using var captured = await harness.CapturePublishedAsync(NsqTopics.ReceiptSent, NsqTypedSerializers.ReceiptSent, TestContext.Current.CancellationToken);

        await harness.Producer.PublishOrderPlacedManyAsync([new(runId, 7), new(runId, 8)], TestContext.Current.CancellationToken);

        var sent = await captured.WaitForAsync(2, Timeout);
        Assert.Equal([new ReceiptSent(runId, 7), new ReceiptSent(runId, 8)], sent.OrderBy(r => r.Number));
    }

    [Fact]
    public async Task A_message_the_handler_keeps_failing_is_given_up_on_and_ThrowIfAnyGivenUp_names_it()
    {
        var runId = Seen.NewRun();
        await using var receipts = new NsqProducerHolder();
        await using var harness = await NsqTestHarness.StartAsync(
            [NsqTypedHandlers.Create(_ => new Billing(receipts)).Single(d => d.Channel == "billing")],
            NsqTestHarnessOptions.Default with { Reader = NsqTestHarnessOptions.Default.Reader with { MaxTries = 2 } },
            TestContext.Current.CancellationToken);

        await harness.Producer.PublishAsync(new OrderPlaced(runId, -1), TestContext.Current.CancellationToken);

        await NsqTestHarnessTests.WaitUntilAsync(() => harness.GivenUp.Count == 1);
        var error = Assert.Throws<InvalidOperationException>(harness.ThrowIfAnyGivenUp);
        Assert.Contains("1 message(s) were given up on", error.Message, StringComparison.Ordinal);
        Assert.Contains("order -1 cannot be billed", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, harness.Failures.Count);
        Assert.Empty(harness.Handled);
    }

    [Fact]
    public async Task A_wait_that_is_not_met_times_out_saying_what_was_handled()
    {
        await using var receipts = new NsqProducerHolder();
        await using var harness = await NsqTestHarness.StartAsync([NsqTypedHandlers.Shipping_OnOrderPlacedAsync], cancellationToken: TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<TimeoutException>(() => harness.WaitForHandledAsync<OrderPlaced>(1, TimeSpan.FromMilliseconds(200)));

        Assert.Contains("1 message(s) handled by handlers of OrderPlaced; handled 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAllAsync_runs_every_generated_handler_and_disposing_drains_them()
    {
        await using var server = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var runId = Seen.NewRun();
        await using var receipts = new NsqProducerHolder();
        await using var producer = new NsqProducer(server.TcpAddress);
        receipts.Target = producer;

        var consumers = await NsqTypedHandlers.StartAllAsync(
            new NsqReaderOptions { NsqdTcpAddresses = [server.TcpAddress] },
            _ => new Billing(receipts),
            TestContext.Current.CancellationToken);
        await consumers.WaitUntilSubscribedAsync(Timeout, TestContext.Current.CancellationToken);
        Assert.Equal(NsqTypedHandlers.All.Select(d => (d.Topic, d.Channel)), consumers.Readers.Select(r => (r.Options.Topic, r.Options.Channel)));
        Assert.Equal("shipping", consumers.GetReader(NsqTypedHandlers.Shipping_OnOrderPlacedAsync).Options.Channel);

        await producer.PublishOrderPlacedAsync(new OrderPlaced(runId, 1), TestContext.Current.CancellationToken);
        await producer.PublishOrderPlacedDeferredAsync(new OrderPlaced(runId, 2), TimeSpan.FromMilliseconds(300), TestContext.Current.CancellationToken);
        await WaitUntilAsync(() => Seen.Of(runId).Count == 4);
        await consumers.DisposeAsync();

        Assert.All(consumers.Readers, r => Assert.True(r.Completion.IsCompleted));
        Assert.Equal(["billed 1 (attempt 1)", "billed 2 (attempt 1)", "shipped 1", "shipped 2"], Seen.Of(runId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task StartAllAsync_with_a_service_provider_handles_each_message_in_its_own_scope()
    {
        await using var server = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var runId = Seen.NewRun();
        await using var producer = new NsqProducer(server.TcpAddress);
        var services = new ServiceCollection().AddScoped<UnitOfWork>().AddSingleton<INsqPublisher>(producer);
        services.AddNsqTypedHandlers();
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });

        await using (var consumers = await NsqTypedHandlers.StartAllAsync(new NsqReaderOptions { NsqdTcpAddresses = [server.TcpAddress] }, provider, TestContext.Current.CancellationToken))
        {
            await consumers.WaitUntilSubscribedAsync(Timeout, TestContext.Current.CancellationToken);
            await producer.PublishScopedWorkManyAsync([new(runId, 1), new(runId, 2), new(runId, 3)], TestContext.Current.CancellationToken);
            await WaitUntilAsync(() => ScopedWorker.Seen.Count(s => s.RunId == runId) == 3);
        }

        var units = ScopedWorker.Seen.Where(s => s.RunId == runId).Select(s => s.UnitOfWork).ToList();
        Assert.Equal(3, units.Select(u => u.Id).Distinct().Count());
        Assert.All(units, u => Assert.True(u.IsDisposed));
    }

    [Fact]
    public async Task ReadAllAsync_of_T_yields_deserialized_messages_with_their_context_and_requeues_bodies_that_do_not_deserialize()
    {
        await using var server = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var runId = Seen.NewRun();
        await using var reader = new NsqReader(new NsqReaderOptions
        {
            NsqdTcpAddresses = [server.TcpAddress],
            Topic = NsqTopics.PulledItem,
            Channel = "pull",
            MaxInFlight = 8,
            MaxTries = 1,
            MaxBackoffDuration = TimeSpan.FromMilliseconds(50),
        });
        var givenUp = new TaskCompletionSource<NsqMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        reader.GivingUp += (_, e) => givenUp.TrySetResult(e.Message);
        await reader.StartAsync(TestContext.Current.CancellationToken);
        await WaitUntilAsync(() => reader.Connections.Count == 1);

        await using var producer = new NsqProducer(server.TcpAddress);
        await producer.PublishAsync(NsqTopics.PulledItem, "not json"u8.ToArray(), TestContext.Current.CancellationToken);
        await producer.PublishPulledItemManyAsync([new(runId, 1), new(runId, 2)], TestContext.Current.CancellationToken);

        var received = new List<NsqReceived<PulledItem>>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        stop.CancelAfter(Timeout);
        await foreach (var (item, context) in reader.ReadAllAsync<PulledItem>(stop.Token))
        {
            Assert.Equal((NsqTopics.PulledItem, "pull", (ushort)1), (context.Topic, context.Channel, context.Attempts));
            await context.FinishAsync(TestContext.Current.CancellationToken);
            received.Add(new(item, context));
            if (received.Count == 2)
            {
                break;
            }
        }

        Assert.Equal([new PulledItem(runId, 1), new PulledItem(runId, 2)], received.Select(r => r.Message));

        // Pull mode gives up while enumerating: keep reading until the redelivered poison message is given up on.
        using var drained = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var drain = Task.Run(
            async () =>
            {
                await foreach (var unexpected in reader.ReadAllAsync<PulledItem>(drained.Token))
                {
                    Assert.Fail($"Only the poison message was left, yet {unexpected.Message} was yielded.");
                }
            },
            TestContext.Current.CancellationToken);
        var poison = await givenUp.Task.WaitAsync(Timeout, TestContext.Current.CancellationToken);
        await drained.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => drain);
        Assert.Equal("not json", Encoding.UTF8.GetString(poison.Body.Span));
    }

    [Fact]
    public async Task ReadAllAsync_of_a_type_of_another_topic_is_refused()
    {
        await using var reader = new NsqReader(new NsqReaderOptions { NsqdTcpAddresses = ["127.0.0.1:4150"], Topic = "other", Channel = "c" });

        var error = Assert.Throws<ArgumentException>(() => reader.ReadAllAsync<PulledItem>(TestContext.Current.CancellationToken));

        Assert.Contains("reads topic 'other', but", error.Message, StringComparison.Ordinal);
    }

    private static int Number(ReadOnlyMemory<byte> body) =>
        System.Text.Json.JsonSerializer.Deserialize(body.Span, HarnessJsonContext.Default.OrderPlaced)!.Number;

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var expired = new CancellationTokenSource(Timeout);
        while (!condition())
        {
            await Task.Delay(20, expired.Token);
        }
    }

    /// <summary>The publisher the Billing handler gets; pointed at the harness's producer once it exists.</summary>
    private sealed class NsqProducerHolder : INsqPublisher, IAsyncDisposable
    {
        public INsqPublisher? Target { get; set; }

        public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
            Current.PublishAsync(topic, body, cancellationToken);

        public ValueTask PublishManyAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, CancellationToken cancellationToken = default) =>
            Current.PublishManyAsync(topic, bodies, cancellationToken);

        public ValueTask PublishDeferredAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, CancellationToken cancellationToken = default) =>
            Current.PublishDeferredAsync(topic, body, delay, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private INsqPublisher Current => Target ?? throw new InvalidOperationException("No publisher yet.");
    }
}
