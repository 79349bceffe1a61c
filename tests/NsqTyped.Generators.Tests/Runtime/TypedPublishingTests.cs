using System.Text;

namespace NsqTyped.Generators.Tests.Runtime;

/// <summary>The generated Publish{Name}Async / ManyAsync / DeferredAsync methods hand the right bytes to the publisher.</summary>
public sealed class TypedPublishingTests
{
    private readonly RecordingPublisher _publisher = new();

    [Fact]
    public async Task PublishAsync_sends_the_JSON_body_to_the_topic_of_the_type()
    {
        await _publisher.PublishOrderCreatedAsync(new OrderCreated("A-1", 12.5m), TestContext.Current.CancellationToken);

        var call = Assert.Single(_publisher.Calls);
        Assert.Equal(("PUB", "orders.created"), (call.Verb, call.Topic));
        Assert.Equal("{\"OrderId\":\"A-1\",\"Total\":12.5}", Encoding.UTF8.GetString(Assert.Single(call.Bodies)));
    }

    [Fact]
    public async Task Event_suffix_is_dropped_from_the_method_name_and_the_table_keeps_the_type_name()
    {
        await _publisher.PublishOrderCancelledAsync(new OrderCancelledEvent("A-2", "changed mind"), TestContext.Current.CancellationToken);

        Assert.Equal("orders.cancelled", NsqTopics.OrderCancelledEvent);
        Assert.Equal("orders.created", NsqTopics.OrderCreated);
        Assert.Equal(NsqTopics.OrderCancelledEvent, Assert.Single(_publisher.Calls).Topic);
    }

    [Fact]
    public async Task ManyAsync_sends_one_MPUB_with_one_body_per_message_in_order()
    {
        var orders = Enumerable.Range(1, 40).Select(i => new OrderCreated("order-" + i + new string('x', i * 50), i)).ToList();

        await _publisher.PublishOrderCreatedManyAsync(orders, TestContext.Current.CancellationToken);

        var call = Assert.Single(_publisher.Calls);
        Assert.Equal(("MPUB", "orders.created"), (call.Verb, call.Topic));
        Assert.Equal(orders.Count, call.Bodies.Length);
        for (var i = 0; i < orders.Count; i++)
        {
            var expected = System.Text.Json.JsonSerializer.Serialize(orders[i], TestJsonContext.Default.OrderCreated);
            Assert.Equal(expected, Encoding.UTF8.GetString(call.Bodies[i]));
        }
    }

    [Fact]
    public async Task ManyAsync_accepts_a_lazy_sequence()
    {
        await _publisher.PublishLogLineManyAsync(Lines(), TestContext.Current.CancellationToken);

        Assert.Equal(["one", "two", "three"], Assert.Single(_publisher.Calls).Bodies.Select(b => Encoding.UTF8.GetString(b)));

        static IEnumerable<LogLine> Lines()
        {
            yield return new LogLine("one");
            yield return new LogLine("two");
            yield return new LogLine("three");
        }
    }

    [Fact]
    public async Task ManyAsync_rejects_an_empty_batch_before_any_IO()
    {
        await Assert.ThrowsAsync<ArgumentException>(async () => await _publisher.PublishOrderCreatedManyAsync([], TestContext.Current.CancellationToken));
        Assert.Empty(_publisher.Calls);
    }

    [Fact]
    public async Task ManyAsync_rejects_a_null_message_before_any_IO()
    {
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await _publisher.PublishOrderCreatedManyAsync([new OrderCreated("a", 1), null!], TestContext.Current.CancellationToken));
        Assert.Empty(_publisher.Calls);
    }

    [Fact]
    public async Task DeferredAsync_sends_DPUB_with_the_delay()
    {
        await _publisher.PublishOrderCreatedDeferredAsync(new OrderCreated("A-3", 1m), TimeSpan.FromSeconds(90), TestContext.Current.CancellationToken);

        var call = Assert.Single(_publisher.Calls);
        Assert.Equal(("DPUB", "orders.created", TimeSpan.FromSeconds(90)), (call.Verb, call.Topic, call.Delay));
        Assert.Equal("{\"OrderId\":\"A-3\",\"Total\":1}", Encoding.UTF8.GetString(Assert.Single(call.Bodies)));
    }

    [Fact]
    public async Task DeferredAsync_rejects_a_negative_delay()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
            await _publisher.PublishOrderCreatedDeferredAsync(new OrderCreated("A-4", 1m), TimeSpan.FromSeconds(-1), TestContext.Current.CancellationToken));
        Assert.Empty(_publisher.Calls);
    }

    [Fact]
    public async Task PublishAsync_rejects_a_null_message()
    {
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await _publisher.PublishOrderCreatedAsync(null!, TestContext.Current.CancellationToken));
        Assert.Empty(_publisher.Calls);
    }

    [Fact]
    public async Task Raw_string_and_MessagePack_topics_publish_their_encodings()
    {
        await _publisher.PublishBlobAsync(new Blob(new byte[] { 0, 1, 2, 255 }), TestContext.Current.CancellationToken);
        await _publisher.PublishLogLineAsync(new LogLine("héllo"), TestContext.Current.CancellationToken);
        await _publisher.PublishStockChangedAsync(new StockChanged { Sku = "S", Quantity = 3 }, TestContext.Current.CancellationToken);

        Assert.Equal(new byte[] { 0, 1, 2, 255 }, _publisher.Calls[0].Bodies[0]);
        Assert.Equal("blobs", _publisher.Calls[0].Topic);
        Assert.Equal(Encoding.UTF8.GetBytes("héllo"), _publisher.Calls[1].Bodies[0]);
        Assert.Equal("log.lines", _publisher.Calls[1].Topic);
        // [Key(0)] "S", [Key(1)] 3 → fixarray(2), fixstr(1) 'S', positive fixint 3.
        Assert.Equal(new byte[] { 0x92, 0xa1, (byte)'S', 0x03 }, _publisher.Calls[2].Bodies[0]);
        Assert.Equal("stock.changed", _publisher.Calls[2].Topic);
    }

    [Fact]
    public async Task Concurrent_publishes_that_complete_asynchronously_keep_their_own_pooled_bodies()
    {
        var publisher = new YieldingPublisher();

        await Task.WhenAll(Enumerable.Range(0, 32).Select(i => Task.Run(async () =>
        {
            var lines = Enumerable.Range(0, 1 + (i % 5)).Select(j => new LogLine($"{i}:{j}")).ToArray();
            await publisher.PublishLogLineManyAsync(lines, TestContext.Current.CancellationToken);
            await publisher.PublishLogLineAsync(new LogLine($"{i}:single"), TestContext.Current.CancellationToken);
        }, TestContext.Current.CancellationToken)));

        Assert.Equal(64, publisher.Calls.Count);
        foreach (var (verb, bodies) in publisher.Calls)
        {
            var texts = bodies.Select(b => Encoding.UTF8.GetString(b)).ToArray();
            var owner = texts[0].Split(':')[0];
            if (verb == "PUB")
            {
                Assert.Equal([owner + ":single"], texts);
            }
            else
            {
                Assert.Equal(Enumerable.Range(0, 1 + (int.Parse(owner) % 5)).Select(j => $"{owner}:{j}"), texts);
            }
        }
    }

    [Fact]
    public async Task Large_messages_grow_the_pooled_buffer_and_consecutive_publishes_do_not_leak_bytes()
    {
        var big = new LogLine(new string('z', 100_000));
        await _publisher.PublishLogLineAsync(big, TestContext.Current.CancellationToken);
        await _publisher.PublishLogLineAsync(new LogLine("small"), TestContext.Current.CancellationToken);

        Assert.Equal(100_000, _publisher.Calls[0].Bodies[0].Length);
        Assert.Equal("small", Encoding.UTF8.GetString(_publisher.Calls[1].Bodies[0]));
    }
}

/// <summary>Completes every publish asynchronously (on another thread) before reading the bodies, as a real connection does.</summary>
internal sealed class YieldingPublisher : INsqPublisher
{
    public System.Collections.Concurrent.ConcurrentQueue<(string Verb, byte[][] Bodies)> Calls { get; } = new();

    public async ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        Calls.Enqueue(("PUB", [body.ToArray()]));
    }

    public async ValueTask PublishManyAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        Calls.Enqueue(("MPUB", bodies.Select(b => b.ToArray()).ToArray()));
    }

    public async ValueTask PublishDeferredAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        Calls.Enqueue(("DPUB", [body.ToArray()]));
    }
}
