using System.Buffers;

namespace NsqTyped.Benchmarks.Throughput;

/// <summary>One workload of the throughput tool.</summary>
/// <param name="Name">Its name on the command line and in the table.</param>
/// <param name="Raw">The raw-mode workload it is compared with, if any.</param>
/// <param name="Description">One line for the report.</param>
/// <param name="Share">Its message count is <c>--messages</c> divided by this (round-trip-bound workloads are slow).</param>
/// <param name="Run">Runs it once with a message count, bracketing the timed part with the probe.</param>
internal sealed record Workload(string Name, string? Raw, string Description, int Share, Func<WorkloadContext, long, Task> Run);

/// <summary>What a workload run gets: the server, the probe, fresh topic names, the prefill.</summary>
internal sealed class WorkloadContext(BenchServer server, Probe probe, CancellationToken cancellationToken)
{
    private static int s_topics;
    private readonly List<string> _topics = [];

    public BenchServer Server => server;

    public Probe Probe => probe;

    public CancellationToken CancellationToken => cancellationToken;

    /// <summary>A topic no earlier run used; deleted after the run.</summary>
    public string NewTopic(string name)
    {
        var topic = $"bench.{name}.{Environment.ProcessId}.{Interlocked.Increment(ref s_topics)}";
        _topics.Add(topic);
        return topic;
    }

    /// <summary>Marks a fixed topic for deletion after the run (and deletes what an earlier run left).</summary>
    public async Task<string> ReuseTopicAsync(string topic)
    {
        await DeleteTopicAsync(topic).ConfigureAwait(false);
        _topics.Add(topic);
        return topic;
    }

    /// <summary>Fills <paramref name="topic"/> with <paramref name="count"/> copies of <paramref name="body"/> (MPUB, not timed).</summary>
    public Task PrefillAsync(string topic, long count, ReadOnlyMemory<byte> body) =>
        RawLoadClient.PublishBatchesAsync(server.TcpAddress, topic, count, body, batchSize: 200, window: 16, cancellationToken);

    /// <summary>Deletes the run's topics so the server does not keep their messages.</summary>
    public async Task CleanUpAsync()
    {
        foreach (var topic in _topics)
        {
            await DeleteTopicAsync(topic).ConfigureAwait(false);
        }

        _topics.Clear();
    }

    private async Task DeleteTopicAsync(string topic)
    {
        using var http = new NsqdHttpClient(server.HttpAddress);
        try
        {
            await http.DeleteTopicAsync(topic, cancellationToken).ConfigureAwait(false);
        }
        catch (NsqHttpException)
        {
            // TOPIC_NOT_FOUND: nothing to delete.
        }
    }
}

/// <summary>The workloads: library ones and the raw limits they are divided by.</summary>
internal static class Workloads
{
    public const int BodySize = 200;
    public const int ConsumeMaxInFlight = 2500;
    public const int PublishWindow = 1000;
    public const int MpubBatch = 200;
    public const int MpubWindow = 16;

    /// <summary>
    /// Consume workloads stop the clock this many messages before the last: nsqd holds the final partial
    /// output buffer (at most 16 KB, about 70 of these messages) until its output_buffer_timeout (250 ms)
    /// ticks, which would otherwise round every run's time up to a multiple of 250 ms.
    /// </summary>
    public const int ConsumeTail = 100;

    /// <summary>Longest a single run may take before it counts as hung.</summary>
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(10);

    private static readonly byte[] Body = CreateBody();

    public static IReadOnlyList<Workload> All { get; } =
    [
        new("raw-consume", null, $"bare socket + protocol core, RDY {ConsumeMaxInFlight}, FIN each", 1, (c, n) => RawConsumeAsync(c, n, ConsumeMaxInFlight)),
        new("consume", "raw-consume", $"NsqReader, MaxInFlight {ConsumeMaxInFlight}, trivial handler, FIN each", 1, (c, n) => ConsumeAsync(c, n, ConsumeMaxInFlight)),
        new("raw-consume-rdy1", null, "bare socket + protocol core, RDY 1, FIN each", 10, (c, n) => RawConsumeAsync(c, n, 1)),
        new("consume-rdy1", "raw-consume-rdy1", "NsqReader, MaxInFlight 1 (the default), trivial handler", 10, (c, n) => ConsumeAsync(c, n, 1)),
        // Tuning figures (docs/performance-tuning.md): compression, and a handler that waits 1 ms (I/O) with more or less concurrency.
        new("consume-snappy", "raw-consume", $"as consume, Snappy-compressed connection", 1, (c, n) => ConsumeAsync(c, n, ConsumeMaxInFlight, NsqdConnectionOptions.Default with { Snappy = true })),
        new("consume-deflate", "raw-consume", $"as consume, Deflate-compressed connection (level 6)", 1, (c, n) => ConsumeAsync(c, n, ConsumeMaxInFlight, NsqdConnectionOptions.Default with { Deflate = true })),
        new("consume-io-c1", null, "NsqReader, MaxInFlight 256, handler awaits 1 ms, MaxConcurrency 1", 100, (c, n) => ConsumeAsync(c, n, 256, handlerDelay: TimeSpan.FromMilliseconds(1), maxConcurrency: 1)),
        new("consume-io-c64", null, "NsqReader, MaxInFlight 256, handler awaits 1 ms, MaxConcurrency 64", 10, (c, n) => ConsumeAsync(c, n, 256, handlerDelay: TimeSpan.FromMilliseconds(1), maxConcurrency: 64)),
        new("consume-io-c256", null, "NsqReader, MaxInFlight 256, handler awaits 1 ms, MaxConcurrency 256", 10, (c, n) => ConsumeAsync(c, n, 256, handlerDelay: TimeSpan.FromMilliseconds(1), maxConcurrency: 256)),
        new("deserialize-only", null, "the typed body deserialized by the generated JSON serializer, no I/O", 1, DeserializeOnlyAsync),
        new("typed-consume", "raw-consume", $"generated [NsqHandler] for a 5-field JSON [NsqTopic] record, MaxInFlight {ConsumeMaxInFlight}", 1, TypedConsumeAsync),
        new("raw-pub", null, $"bare socket + protocol core, {PublishWindow} pipelined PUBs of {BodySize} B", 1, (c, n) => RawPublishAsync(c, n, PublishWindow)),
        new("pub", "raw-pub", $"NsqProducer, {PublishWindow} outstanding PublishAsync of {BodySize} B", 1, (c, n) => PublishAsync(c, n, PublishWindow)),
        new("raw-syncpub", null, $"bare socket + protocol core, one PUB of {BodySize} B at a time", 10, (c, n) => RawPublishAsync(c, n, 1)),
        new("syncpub", "raw-syncpub", $"NsqProducer, one awaited PublishAsync of {BodySize} B at a time", 10, (c, n) => PublishAsync(c, n, 1)),
        new("raw-mpub", null, $"bare socket + protocol core, MPUB {MpubBatch} x {BodySize} B, {MpubWindow} outstanding", 1, RawMpubAsync),
        new("mpub", "raw-mpub", $"NsqProducer (one connection), PublishManyAsync {MpubBatch} x {BodySize} B, {MpubWindow} outstanding", 1, MpubAsync),
    ];

    /// <summary>The typed message's body, as the generated serializer writes it.</summary>
    public static byte[] TypedBody { get; } = SerializeTypedBody();

    private static async Task RawConsumeAsync(WorkloadContext c, long n, int rdy)
    {
        var topic = c.NewTopic("raw-consume");
        await c.PrefillAsync(topic, n, Body).ConfigureAwait(false);
        c.Probe.Start();
        await RawLoadClient.ConsumeAsync(c.Server.TcpAddress, topic, "bench", n, rdy, n - ConsumeTail, () => c.Probe.Stop(n - ConsumeTail), c.CancellationToken)
            .WaitAsync(RunTimeout, c.CancellationToken).ConfigureAwait(false);
    }

    private static async Task ConsumeAsync(WorkloadContext c, long n, int maxInFlight, NsqdConnectionOptions? connection = null, TimeSpan handlerDelay = default, int maxConcurrency = 0)
    {
        var topic = c.NewTopic("consume");
        await c.PrefillAsync(topic, n, Body).ConfigureAwait(false);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var remaining = n;
        var reader = new NsqReader(
            new NsqReaderOptions
            {
                Topic = topic, Channel = "bench", NsqdTcpAddresses = [c.Server.TcpAddress], MaxInFlight = maxInFlight,
                MaxConcurrency = maxConcurrency, Connection = connection ?? NsqdConnectionOptions.Default,
            },
            async (message, ct) =>
            {
                if (handlerDelay > TimeSpan.Zero)
                {
                    await Task.Delay(handlerDelay, ct).ConfigureAwait(false);
                }

                var left = Interlocked.Decrement(ref remaining);
                if (left == ConsumeTail)
                {
                    c.Probe.Stop(n - ConsumeTail);
                }
                else if (left == 0)
                {
                    done.TrySetResult();
                }
            });
        await using (reader.ConfigureAwait(false))
        {
            c.Probe.Start();
            await reader.StartAsync(c.CancellationToken).ConfigureAwait(false);
            await done.Task.WaitAsync(RunTimeout, c.CancellationToken).ConfigureAwait(false);
            await reader.CloseAsync(c.CancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task TypedConsumeAsync(WorkloadContext c, long n)
    {
        var topic = await c.ReuseTopicAsync(BenchOrder.Topic).ConfigureAwait(false);
        await c.PrefillAsync(topic, n, TypedBody).ConfigureAwait(false);
        var dispatcher = NsqTypedHandlers.All.Single(d => d.Topic == BenchOrder.Topic);
        var done = BenchOrderHandler.Expect(n, ConsumeTail, () => c.Probe.Stop(n - ConsumeTail));
        var reader = new NsqReader(
            new NsqReaderOptions { NsqdTcpAddresses = [c.Server.TcpAddress], MaxInFlight = ConsumeMaxInFlight },
            dispatcher);
        await using (reader.ConfigureAwait(false))
        {
            c.Probe.Start();
            await reader.StartAsync(c.CancellationToken).ConfigureAwait(false);
            await done.WaitAsync(RunTimeout, c.CancellationToken).ConfigureAwait(false);
            await reader.CloseAsync(c.CancellationToken).ConfigureAwait(false);
        }
    }

    private static Task DeserializeOnlyAsync(WorkloadContext c, long n)
    {
        var serializer = NsqTypedSerializers.BenchOrder;
        var body = new ReadOnlySequence<byte>(TypedBody);
        long quantity = 0;
        c.Probe.Start();
        for (long i = 0; i < n; i++)
        {
            quantity += serializer.Deserialize(body).Quantity;
        }

        c.Probe.Stop(n);
        return quantity == 3 * n ? Task.CompletedTask : throw new InvalidOperationException("Body did not round-trip.");
    }

    private static async Task RawPublishAsync(WorkloadContext c, long n, int window)
    {
        var topic = c.NewTopic("raw-pub");
        c.Probe.Start();
        await RawLoadClient.PublishAsync(c.Server.TcpAddress, topic, n, Body, window, c.CancellationToken).WaitAsync(RunTimeout, c.CancellationToken).ConfigureAwait(false);
        c.Probe.Stop(n);
    }

    private static async Task RawMpubAsync(WorkloadContext c, long n)
    {
        var topic = c.NewTopic("raw-mpub");
        c.Probe.Start();
        await RawLoadClient.PublishBatchesAsync(c.Server.TcpAddress, topic, n, Body, MpubBatch, MpubWindow, c.CancellationToken).WaitAsync(RunTimeout, c.CancellationToken).ConfigureAwait(false);
        c.Probe.Stop(n);
    }

    private static Task PublishAsync(WorkloadContext c, long n, int window) =>
        ProducerAsync(c, "pub", n, window, (producer, topic, token) => producer.PublishAsync(topic, Body, token));

    private static Task MpubAsync(WorkloadContext c, long n)
    {
        var batch = Enumerable.Repeat<ReadOnlyMemory<byte>>(Body, MpubBatch).ToArray();
        return ProducerAsync(c, "mpub", n / MpubBatch, MpubWindow, (producer, topic, token) => producer.PublishManyAsync(topic, batch, token), MpubBatch);
    }

    /// <summary>
    /// Makes <paramref name="calls"/> publish calls on one connected <see cref="NsqProducer"/>, keeping
    /// <paramref name="window"/> of them outstanding (a ring of their tasks; 1: each awaited before the next).
    /// </summary>
    private static async Task ProducerAsync(WorkloadContext c, string name, long calls, int window, Func<NsqProducer, string, CancellationToken, ValueTask> publish, int messagesPerCall = 1)
    {
        var topic = c.NewTopic(name);
        var producer = new NsqProducer(c.Server.TcpAddress, new NsqProducerOptions { ConnectionsPerNode = 1 });
        await using (producer.ConfigureAwait(false))
        {
            await producer.ConnectAsync(c.CancellationToken).ConfigureAwait(false);
            var outstanding = new ValueTask[window];
            c.Probe.Start();
            for (long i = 0; i < calls; i++)
            {
                var slot = (int)(i % window);
                await outstanding[slot].ConfigureAwait(false);
                outstanding[slot] = publish(producer, topic, c.CancellationToken);
            }

            for (var slot = 0; slot < window; slot++)
            {
                await outstanding[slot].ConfigureAwait(false);
            }

            c.Probe.Stop(calls * messagesPerCall);
        }
    }

    private static byte[] CreateBody()
    {
        var body = new byte[BodySize];
        Array.Fill(body, (byte)'x');
        return body;
    }

    private static byte[] SerializeTypedBody()
    {
        var writer = new ArrayBufferWriter<byte>();
        NsqTypedSerializers.BenchOrder.Serialize(writer, BenchOrder.Sample);
        return writer.WrittenSpan.ToArray();
    }
}
