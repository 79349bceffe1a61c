using System.Net;
using System.Net.Sockets;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Producer;

/// <summary>Runs alone: it measures the process's managed heap, which parallel tests would disturb.</summary>
[CollectionDefinition(nameof(MemoryBoundCollection), DisableParallelization = true)]
public sealed class MemoryBoundCollection;

/// <summary>A server that stops reading never makes the producer's memory grow without bound.</summary>
[Collection(nameof(MemoryBoundCollection))]
public sealed class ProducerMemoryBoundTests
{
    private const int Attempts = 1_000_000;
    private const int Workers = 4_000;

    // The stated bound: live managed heap growth while the million publishes run. Holding even the bodies of
    // the attempted publishes would take 200 MB; what the producer may hold is bounded by
    // MaxOutstandingPublishes (1,000 × 200 B here) plus its pooled buffers.
    private const long HeapBound = 64L * 1024 * 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_million_publishes_against_a_stalled_server_keep_the_heap_bounded_and_each_completes_or_throws()
    {
        await using var server = new StalledServer();
        var options = NsqProducerOptions.Default with
        {
            MaxOutstandingPublishes = 1_000,
            PublishTimeout = TimeSpan.FromMilliseconds(50),
            DisconnectedPolicy = NsqDisconnectedPolicy.FailFast,
            ReconnectBaseDelay = TimeSpan.FromMilliseconds(20),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(200),
            Connection = NsqdConnectionOptions.Default with { WriteTimeout = TimeSpan.FromMilliseconds(500) },
        };
        await using var producer = new NsqProducer(server.Address, options);
        _ = producer.ConnectAsync(Ct).AsTask().ContinueWith(static t => t.Exception, TaskScheduler.Default);   // starts the pool; the 50 ms publish timeout bounds its wait
        await NsqTestServers.WaitUntilAsync(() => producer.IsConnected, TimeSpan.FromSeconds(5), "the producer connected");
        var body = new byte[200];
        Array.Fill(body, (byte)'x');

        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peak = baseline;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true));
                await Task.Delay(100, CancellationToken.None);
            }
        }, CancellationToken.None);

        long attempted = 0;
        long acknowledged = 0;
        long failed = 0;
        var workers = Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref attempted) <= Attempts)
            {
                try
                {
                    await producer.PublishAsync("stalled", body, Ct);
                    Interlocked.Increment(ref acknowledged);
                }
                catch (Exception ex) when (ex is NsqTimeoutException or NsqConnectionException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }, Ct)).ToArray();

        // Anything else thrown (or a publish that never returns) fails the test here.
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromMinutes(4), Ct);
        await stop.CancelAsync();
        await sampler;

        Assert.Equal(Attempts, acknowledged + failed);
        Assert.True(server.Connections >= 1);
        Assert.True(peak - baseline < HeapBound, $"The managed heap grew by {(peak - baseline) / 1024 / 1024} MiB (bound {HeapBound / 1024 / 1024} MiB).");
        Assert.Equal(0, producer.OutstandingPublishes);
    }

    /// <summary>Accepts connections, answers IDENTIFY, and then never reads from them again.</summary>
    private sealed class StalledServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<Socket> _accepted = [];
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _acceptLoop;
        private int _connections;

        public StalledServer()
        {
            _listener.Start();
            _acceptLoop = AcceptLoopAsync();
        }

        public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

        public int Connections => Volatile.Read(ref _connections);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _acceptLoop;
            lock (_accepted)
            {
                _accepted.ForEach(s => s.Dispose());
            }

            _stop.Dispose();
        }

        private async Task AcceptLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptSocketAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                lock (_accepted)
                {
                    _accepted.Add(socket);
                }

                Interlocked.Increment(ref _connections);
                try
                {
                    var stream = new NetworkStream(socket, ownsSocket: false);
                    using (await ScriptedServer.ReadMagicAndIdentifyAsync(stream))
                    {
                        await stream.WriteAsync(ConformanceFixtures.ServerBytes("identify_feature_negotiation", 3), _stop.Token);
                    }
                }
                catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
                {
                    // The client gave up during the handshake; it reconnects.
                }
            }
        }
    }
}
