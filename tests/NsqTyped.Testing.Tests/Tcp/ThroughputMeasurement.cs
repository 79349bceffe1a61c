using NsqTyped.Testing.Tests.Support;

namespace NsqTyped.Testing.Tests.Tcp;

/// <summary>
/// Throughput of the embedded nsqd with raw-socket clients (MPUB 200 × 200 B in; RDY 2500 with a FIN
/// per message out; pipelined single PUBs). A measurement, not an assertion: build in Release and run it
/// explicitly, printing the figures, with
/// <c>tests/NsqTyped.Testing.Tests/bin/Release/net10.0/NsqTyped.Testing.Tests -class NsqTyped.Testing.Tests.Tcp.ThroughputMeasurement -explicit only -showliveoutput</c>.
/// </summary>
public sealed class ThroughputMeasurement
{
    [Fact(Explicit = true)]
    public async Task Measure_ingest_and_delivery_rates()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: cancellationToken);

        // Warm-up (JIT, buffers) on another topic, then the measured runs.
        await NsqdThroughput.PublishAsync(nsqd.TcpEndPoint, "warmup", batches: 500, cancellationToken: cancellationToken);
        await NsqdThroughput.ConsumeAsync(nsqd.TcpEndPoint, "warmup", "ch", 100_000, cancellationToken: cancellationToken);

        const int batches = 5_000;
        var ingest = await NsqdThroughput.PublishAsync(nsqd.TcpEndPoint, "bench", batches, cancellationToken: cancellationToken);
        var delivery = await NsqdThroughput.ConsumeAsync(nsqd.TcpEndPoint, "bench", "ch", batches * 200L, cancellationToken: cancellationToken);

        var singles = await NsqdThroughput.PublishAsync(nsqd.TcpEndPoint, "singles", batches: 200_000, batchSize: 1, window: 200, cancellationToken: cancellationToken);

        TestContext.Current.TestOutputHelper?.WriteLine($"ingest   (MPUB 200 x 200 B): {ingest}");
        TestContext.Current.TestOutputHelper?.WriteLine($"ingest   (PUB 200 B, 200 pipelined): {singles}");
        TestContext.Current.TestOutputHelper?.WriteLine($"delivery (RDY 2500, FIN each): {delivery}");
        Assert.Equal(batches * 200L, delivery.Messages);
    }
}
