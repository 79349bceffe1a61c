using System.Buffers.Binary;
using System.Collections.Concurrent;
using NsqTyped.Internal;
using NsqTyped.Reader;
using NsqTyped.Tests.Reader;
using NsqTyped.Tests.Support;
using static NsqTyped.Tests.Connection.BodySlabTests;

namespace NsqTyped.Tests.Connection;

/// <summary>
/// Consumed bodies against nsqd (embedded, or real when NSQD_* is set): each stays intact for as long as it is
/// referenced, whatever was read after it, and a consumed message costs one allocation, its <see cref="NsqMessage"/>.
/// </summary>
public sealed class MessageBodyTests(NsqTestServers servers)
{
    /// <summary>Body sizes around the slab's edges: tiny, typical, at and past the shared-slab threshold, and large.</summary>
    private static readonly int[] Sizes = [4, 5, 200, 1000, BodySlab.MaxSlabbedBody - 1, BodySlab.MaxSlabbedBody, BodySlab.MaxSlabbedBody + 1, 3000, BodySlab.SlabSize, BodySlab.SlabSize + 1, 17, 777];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("none")]
    [InlineData("snappy")]
    [InlineData("deflate")]
    public async Task Bodies_of_a_bare_connection_stay_intact_after_later_messages_and_after_fin(string compression)
    {
        var topic = NsqTestServers.UniqueTopic("bodies");
        const int count = 600;
        await PublishNumberedAsync(topic, count);

        var options = NsqdConnectionOptions.Default with { Snappy = compression == "snappy", Deflate = compression == "deflate" };
        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic, options: options, ready: 200);
        var received = new List<NsqMessage>();
        for (var i = 0; i < count; i++)
        {
            var message = await consumer.NextAsync();
            AssertIntact(message);
            received.Add(message);
            await message.FinishAsync(Ct);
        }

        AssertKeptIntact(received, count);
    }

    [Fact]
    public async Task Bodies_handed_to_a_readers_handler_stay_intact_after_later_messages_and_after_fin()
    {
        var topic = NsqTestServers.UniqueTopic("bodies");
        const int count = 600;
        var received = new ConcurrentQueue<NsqMessage>();
        var corruptOnArrival = 0;
        var options = ReaderTestKit.Fast(topic, NsqTestServers.UniqueChannel()) with { NsqdTcpAddresses = [servers.NsqdTcpAddress], MaxInFlight = 100 };
        await using var reader = new NsqReader(options, (message, _) =>
        {
            // Counted rather than asserted here: a throwing handler would requeue the message and hide the failure in retries.
            if (!IsIntact(message))
            {
                Interlocked.Increment(ref corruptOnArrival);
            }

            received.Enqueue(message);
            return ValueTask.CompletedTask;
        });
        await reader.StartAsync(Ct);

        await PublishNumberedAsync(topic, count);

        await ReaderTestKit.WaitUntilAsync(() => received.Count == count && received.All(m => m.HasResponded), "every message handled and finished");
        Assert.Equal(0, corruptOnArrival);
        AssertKeptIntact(received, count);
    }

    [Fact]
    public async Task Between_two_messages_of_one_read_the_read_loop_allocates_only_the_second_message()
    {
        var topic = NsqTestServers.UniqueTopic("alloc");
        const int count = 2000;
        var connection = new NsqdConnection(servers.NsqdTcpAddress);
        await using var _ = connection;
        var sink = new AllocationRecordingSink(connection, count);
        connection.AttachSink(sink);
        await connection.ConnectAsync(Ct);
        await connection.SubscribeAsync(topic, "c", Ct);
        await using (var producer = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct))
        {
            // 8-byte bodies: an array of their own would cost 32 B each, more than nothing by a clear margin.
            var bodies = Enumerable.Range(0, count).Select(i => (ReadOnlyMemory<byte>)Pattern(i, 8)).ToList();
            for (var start = 0; start < count; start += 500)
            {
                await producer.PublishManyAsync(topic, bodies.GetRange(start, 500), Ct);
            }
        }

        await connection.ReadyAsync(count, Ct);
        await NsqTestServers.WaitUntilAsync(() => sink.Count == count, TimeSpan.FromSeconds(15), "every message delivered");
        foreach (var message in sink.Messages)
        {
            await message!.FinishAsync(Ct);
        }

        var messageSize = SizeOfAnEmptyMessage(connection);

        // Consecutive deliveries on one thread: the bytes that thread allocated in between. Any delta that also spans an
        // await, another test's work on the thread, a new slab or the ledger growing is larger; the smallest is the
        // read loop's own cost of one message frame.
        var smallest = long.MaxValue;
        var pairs = 0;
        for (var i = 1; i < count; i++)
        {
            if (sink.Threads[i] == sink.Threads[i - 1])
            {
                smallest = Math.Min(smallest, sink.Allocated[i] - sink.Allocated[i - 1]);
                pairs++;
            }
        }

        Assert.True(pairs > 0, "some messages arrived in the same read");
        Assert.Equal(messageSize, smallest);
    }

    /// <summary>The bytes one <see cref="NsqMessage"/> with an empty body takes, measured on this thread.</summary>
    private static long SizeOfAnEmptyMessage(INsqMessageResponder responder)
    {
        long size = 0;
        for (var i = 0; i < 3; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var message = new NsqMessage(default, 1, 0, ReadOnlyMemory<byte>.Empty, responder);
            size = GC.GetAllocatedBytesForCurrentThread() - before;
            GC.KeepAlive(message);
        }

        return size;
    }

    /// <summary>Publishes bodies numbered 0..count-1 in their first 4 bytes, with sizes cycling through <see cref="Sizes"/>.</summary>
    private async Task PublishNumberedAsync(string topic, int count)
    {
        await using var producer = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        for (var start = 0; start < count; start += 50)
        {
            var bodies = Enumerable.Range(start, Math.Min(50, count - start)).Select(i => (ReadOnlyMemory<byte>)Numbered(i)).ToList();
            await producer.PublishManyAsync(topic, bodies, Ct);
        }
    }

    private static byte[] Numbered(int number)
    {
        var body = Pattern(number, Sizes[(int)((uint)number % (uint)Sizes.Length)]);
        BinaryPrimitives.WriteInt32BigEndian(body, number);
        return body;
    }

    private static int Number(NsqMessage message) => BinaryPrimitives.ReadInt32BigEndian(message.Body.Span);

    /// <summary>Every body is as published after all were read and finished (and a GC ran), each once, no two sharing a byte.</summary>
    private static void AssertKeptIntact(IReadOnlyCollection<NsqMessage> received, int count)
    {
        GC.Collect();
        Assert.All(received, AssertIntact);
        Assert.Equal(count, received.Select(Number).Distinct().Count());
        AssertDisjoint(received.Select(m => m.Body));
    }

    private static bool IsIntact(NsqMessage message) => message.Body.Length >= 4 && message.Body.Span.SequenceEqual(Numbered(Number(message)));

    private static void AssertIntact(NsqMessage message) => Assert.Equal(Numbered(Number(message)), message.Body.ToArray());

    /// <summary>Records, at each delivery, the thread and its allocated bytes; allocates nothing itself.</summary>
    private sealed class AllocationRecordingSink(NsqdConnection connection, int capacity) : INsqMessageSink
    {
        private int _count;

        public long[] Allocated { get; } = new long[capacity];

        public int[] Threads { get; } = new int[capacity];

        public NsqMessage?[] Messages { get; } = new NsqMessage?[capacity];

        public int Count => Volatile.Read(ref _count);

        public INsqMessageResponder Responder => connection;

        public bool TryDeliver(NsqMessage message)
        {
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var i = _count;
            if (i < capacity)
            {
                Allocated[i] = allocated;
                Threads[i] = Environment.CurrentManagedThreadId;
                Messages[i] = message;
                Volatile.Write(ref _count, i + 1);
            }

            return true;
        }

        public ValueTask DeliverAsync(NsqMessage message, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("TryDeliver never refuses.");

        public bool TryClaimInline() => false;

        public void RunInline(NsqMessage message) => throw new InvalidOperationException("Never claims a message inline.");
    }
}
