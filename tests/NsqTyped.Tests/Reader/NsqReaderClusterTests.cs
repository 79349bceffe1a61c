using System.Collections.Concurrent;
using NsqTyped.Reader;
using NsqTyped.Testing;
using NsqTyped.Tests.Support;
using static NsqTyped.Tests.Reader.ReaderTestKit;

namespace NsqTyped.Tests.Reader;

/// <summary>Reader behaviour across a cluster of 3 nsqd + 1 lookupd started by the test (real processes when the run uses real servers), stopping and restarting nsqd.</summary>
public sealed class NsqReaderClusterTests(NsqTestServers servers)
{
    private readonly string _topic = NsqTestServers.UniqueTopic("cluster");
    private readonly string _channel = NsqTestServers.UniqueChannel("ch");

    private Task<TestNsqCluster> StartClusterAsync(params string[] nsqdFlags) =>
        servers.StartClusterAsync(3, nsqdFlags, TestContext.Current.CancellationToken);

    private static int PortOf(string address) => int.Parse(address[(address.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    private static bool IsConnectedTo(NsqReader reader, string address) =>
        reader.Connections.Any(c => c.Address.EndsWith(":" + PortOf(address), StringComparison.Ordinal));

    [Fact]
    public async Task Lookupd_discovery_connects_to_new_producers_and_keeps_vanished_ones_until_they_end()
    {
        await using var cluster = await StartClusterAsync();
        await PublishAsync(cluster.NsqdTcpAddresses[0], _topic, 1, "a");
        await PublishAsync(cluster.NsqdTcpAddresses[1], _topic, 1, "b");
        await cluster.WaitForProducersAsync(_topic, 2, cancellationToken: TestContext.Current.CancellationToken);
        var bodies = new ConcurrentQueue<string>();
        await using var reader = new NsqReader(Fast(_topic, _channel) with { LookupdHttpAddresses = [cluster.LookupdHttpAddress], MaxInFlight = 10 }, (m, _) =>
        {
            bodies.Enqueue(Text(m));
            return ValueTask.CompletedTask;
        });
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await WaitUntilAsync(() => reader.Connections.Count == 2, "both producers connected");
        await WaitUntilAsync(() => bodies.Count == 2, "both producers' messages consumed");

        // A new producer appears in lookupd: the next poll connects to it.
        await PublishAsync(cluster.NsqdTcpAddresses[2], _topic, 1, "c");
        await WaitUntilAsync(() => reader.Connections.Count == 3, "the new producer connected");
        await WaitUntilAsync(() => bodies.Count == 3, "the new producer's message consumed");
        Assert.Equal(["a0", "b0", "c0"], bodies.Order());

        // Tombstoned in lookupd (nsqd 1 keeps running): no longer discovered, but the live connection stays and consumes.
        using var lookupd = new LookupdClient(cluster.LookupdHttpAddress);
        var producer = (await lookupd.LookupAsync(_topic, TestContext.Current.CancellationToken)).Producers.Single(p => p.TcpPort == PortOf(cluster.NsqdTcpAddresses[1]));
        await lookupd.TombstoneTopicProducerAsync(_topic, producer, TestContext.Current.CancellationToken);
        await PublishAsync(cluster.NsqdTcpAddresses[1], _topic, 1, "t");
        await WaitUntilAsync(() => bodies.Count == 4, "the tombstoned producer's message consumed");
        Assert.True(IsConnectedTo(reader, cluster.NsqdTcpAddresses[1]));
        Assert.Equal(3, reader.Connections.Count);

        // A stopped nsqd leaves lookupd as well, and is not reconnected.
        await cluster.StopNsqdAsync(2, TestContext.Current.CancellationToken);
        await WaitUntilAsync(() => reader.Connections.Count == 2, "the stopped producer is gone");
        Assert.True(IsConnectedTo(reader, cluster.NsqdTcpAddresses[0]) && IsConnectedTo(reader, cluster.NsqdTcpAddresses[1]));
    }

    [Fact]
    public async Task A_failing_lookupd_does_not_disturb_existing_connections()
    {
        await using var failingLookupd = await servers.StartLookupdAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var cluster = await StartClusterAsync("--lookupd-tcp-address=" + failingLookupd.TcpAddress);
        for (var i = 0; i < 3; i++)
        {
            await PublishAsync(cluster.NsqdTcpAddresses[i], _topic, 1);
        }

        await cluster.WaitForProducersAsync(_topic, 3, cancellationToken: TestContext.Current.CancellationToken);
        var counting = new CountingHandler();
        using var http = new HttpClient(counting);
        var removed = 0;
        var handled = 0;
        await using var reader = new NsqReader(
            Fast(_topic, _channel) with { LookupdHttpAddresses = [failingLookupd.HttpAddress, "127.0.0.1:1"], LookupdHttpClient = http, MaxInFlight = 10 },
            (_, _) =>
            {
                Interlocked.Increment(ref handled);
                return ValueTask.CompletedTask;
            });
        reader.SessionRemoved += _ => Interlocked.Increment(ref removed);
        await reader.StartAsync(TestContext.Current.CancellationToken);
        await WaitUntilAsync(() => reader.Connections.Count == 3, "all producers found through the working lookupd");

        // The outage: every lookupd request fails from now on (a stopping lookupd could still answer "no producers").
        counting.Fail = true;
        var failuresBefore = counting.Failures;
        await WaitUntilAsync(() => counting.Failures >= failuresBefore + 10, "several polls failed on both lookupds");

        Assert.Equal(3, reader.Connections.Count);
        Assert.Equal(0, Volatile.Read(ref removed));
        await PublishAsync(cluster.NsqdTcpAddresses[1], _topic, 5);
        await WaitUntilAsync(() => Volatile.Read(ref handled) == 8, "messages still flow");
    }

    [Fact]
    public async Task Direct_addresses_reconnect_after_nsqd_restarts()
    {
        await using var cluster = await StartClusterAsync();
        var bodies = new ConcurrentQueue<string>();
        await using var reader = new NsqReader(Fast(_topic, _channel) with { NsqdTcpAddresses = [.. cluster.NsqdTcpAddresses], MaxInFlight = 10 }, (m, _) =>
        {
            bodies.Enqueue(Text(m));
            return ValueTask.CompletedTask;
        });
        var removed = new ConcurrentQueue<string>();
        reader.SessionRemoved += removed.Enqueue;
        await reader.StartAsync(TestContext.Current.CancellationToken);
        await WaitUntilAsync(() => reader.Connections.Count == 3, "connected to every nsqd");

        await cluster.StopNsqdAsync(1, TestContext.Current.CancellationToken);
        await WaitUntilAsync(() => reader.Connections.Count == 2 && !removed.IsEmpty, "the stopped nsqd's connection is gone");
        await cluster.RestartNsqdAsync(1, TestContext.Current.CancellationToken);

        await WaitUntilAsync(() => reader.Connections.Count == 3 && IsConnectedTo(reader, cluster.NsqdTcpAddresses[1]), "reconnected after the restart");
        await PublishAsync(cluster.NsqdTcpAddresses[1], _topic, 3, "back");
        await WaitUntilAsync(() => bodies.Count == 3, "messages of the restarted nsqd consumed");
        Assert.Equal(["back0", "back1", "back2"], bodies.Order());
    }

    [Fact]
    public async Task With_max_in_flight_1_and_3_producers_no_producer_starves()
    {
        await using var cluster = await StartClusterAsync();
        for (var i = 0; i < 3; i++)
        {
            await PublishAsync(cluster.NsqdTcpAddresses[i], _topic, 10, $"n{i}-");
        }

        var bodies = new ConcurrentQueue<string>();
        await using var reader = new NsqReader(Fast(_topic, _channel) with { NsqdTcpAddresses = [.. cluster.NsqdTcpAddresses], MaxInFlight = 1 }, (m, _) =>
        {
            bodies.Enqueue(Text(m));
            return ValueTask.CompletedTask;
        });
        var recorder = new RdyRecorder(reader);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await WaitUntilAsync(() => bodies.Count == 30, "every producer's messages arrive");

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(10, bodies.Count(b => b.StartsWith($"n{i}-", StringComparison.Ordinal)));
        }

        Assert.Empty(recorder.Violations);
        Assert.Equal(3, recorder.EverHeld.Count);
    }

    [Theory]
    [InlineData(2, 101)]
    [InlineData(7, 202)]
    public async Task Rdy_invariants_hold_under_randomized_churn(int maxInFlight, int seed)
    {
        await using var cluster = await StartClusterAsync("--max-rdy-count=3");
        var random = new Random(seed);
        var outcomes = new Random(seed + 1);
        var handled = 0;
        var options = Fast(_topic, _channel) with
        {
            NsqdTcpAddresses = [.. cluster.NsqdTcpAddresses],
            MaxInFlight = maxInFlight,
            MaxBackoffDuration = TimeSpan.FromMilliseconds(150),
            LowReadyIdleTimeout = TimeSpan.FromMilliseconds(150),
        };
        await using var reader = new NsqReader(options, (m, _) =>
        {
            Interlocked.Increment(ref handled);
            int roll;
            lock (outcomes)
            {
                roll = outcomes.Next(100);
            }

            return roll switch
            {
                < 10 => throw new InvalidOperationException("random failure"),
                < 20 => throw new NsqRequeueException(TimeSpan.Zero, backoff: false),
                _ => ValueTask.CompletedTask,
            };
        });
        var recorder = new RdyRecorder(reader);
        await reader.StartAsync(TestContext.Current.CancellationToken);
        await WaitUntilAsync(() => reader.Connections.Count == 3, "connected to every nsqd");

        for (var step = 0; step < 12; step++)
        {
            var index = random.Next(3);
            switch (random.Next(3))
            {
                case 0 when cluster.RunningNsqds.Count > 1 && cluster.IsRunning(index):
                    await cluster.StopNsqdAsync(index, TestContext.Current.CancellationToken);
                    await WaitUntilAsync(() => !IsConnectedTo(reader, cluster.NsqdTcpAddresses[index]), $"step {step}: nsqd {index} dropped");
                    break;
                case 1 when !cluster.IsRunning(index):
                    await cluster.RestartNsqdAsync(index, TestContext.Current.CancellationToken);
                    await WaitUntilAsync(() => IsConnectedTo(reader, cluster.NsqdTcpAddresses[index]), $"step {step}: nsqd {index} reconnected");
                    break;
                default:
                    var running = Enumerable.Range(0, 3).Where(cluster.IsRunning).ToList();
                    var target = running[random.Next(running.Count)];
                    var before = Volatile.Read(ref handled);
                    await PublishAsync(cluster.NsqdTcpAddresses[target], _topic, 15);
                    await WaitUntilAsync(() => Volatile.Read(ref handled) >= before + 15, $"step {step}: the burst on nsqd {target} is handled");
                    break;
            }

            Assert.Empty(recorder.Violations);
        }

        // Still alive after the churn: every running nsqd's messages are consumed.
        foreach (var i in Enumerable.Range(0, 3).Where(cluster.IsRunning))
        {
            await PublishAsync(cluster.NsqdTcpAddresses[i], _topic, 5);
        }

        await WaitUntilAsync(
            async () =>
            {
                foreach (var i in Enumerable.Range(0, 3).Where(cluster.IsRunning))
                {
                    if (await ChannelStatsAsync(cluster.NsqdHttpAddresses[i], _topic, _channel) is not { Depth: 0, InFlightCount: 0, DeferredCount: 0 })
                    {
                        return false;
                    }
                }

                return true;
            },
            "every message drained after the churn");
        Assert.Empty(recorder.Violations);
        Assert.True(recorder.Commands > 10, $"only {recorder.Commands} RDY commands observed");
    }

    [Fact]
    public async Task After_the_first_failure_every_other_connection_gets_rdy_0_before_anything_more_is_delivered()
    {
        const int window = 30;
        await using var cluster = await StartClusterAsync();
        foreach (var address in cluster.NsqdTcpAddresses)
        {
            await PublishAsync(address, _topic, 200);
        }

        RdyRecorder? recorder = null;
        string? failedOn = null;
        var failed = 0;
        var requeued = 0;
        var calls = new ConcurrentQueue<(bool AfterPause, bool TestingSeen, int Attempts)>();
        var callsAtLastRdy = 0;
        IReadOnlyDictionary<string, long>? atBackoff = null;
        await using var reader = new NsqReader(
            Fast(_topic, _channel) with { NsqdTcpAddresses = cluster.NsqdTcpAddresses, MaxInFlight = window, MaxConcurrency = 3 },
            (m, _) =>
            {
                var testing = recorder!.PhasesSnapshot().Any(p => p.Phase == RdyPhase.Testing);
                calls.Enqueue((Volatile.Read(ref requeued) == 1, testing, m.Attempts));

                // Fail once, when every connection holds a window: the failure must pause all three. Not before the
                // window has settled: at start the first connection briefly holds most of it (RDY 28, then 10), and a
                // lowered RDY cannot recall what nsqd already sent under the higher one, so that connection may hold up
                // to 28 until they are handled. Two windows' worth of messages after the last RDY change drain that.
                if (calls.Count - Volatile.Read(ref callsAtLastRdy) >= 2 * window
                    && recorder.Snapshot() is { Count: 3 } rdy && rdy.Values.All(r => r > 0) && Interlocked.CompareExchange(ref failed, 1, 0) == 0)
                {
                    failedOn = ((ReaderConnection)m.Responder).Id;
                    throw new InvalidOperationException("downstream down");
                }

                return ValueTask.CompletedTask;
            });
        recorder = new RdyRecorder(reader);
        reader.RdySent += (_, _, _) => Volatile.Write(ref callsAtLastRdy, calls.Count);

        // Raised once the failure's REQ is queued, behind the RDY 0 of every connection.
        reader.Requeued += (_, _) => Volatile.Write(ref requeued, 1);
        reader.BackoffHook += (phase, _) =>
        {
            if (phase == RdyPhase.BackingOff)
            {
                atBackoff ??= recorder.Snapshot();
            }
        };
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await WaitUntilAsync(() => Volatile.Read(ref failed) == 1, "the handler failed once, with a window on every connection");
        await WaitUntilAsync(() => recorder.PhasesSnapshot().Any(p => p.Phase == RdyPhase.Testing), "the backoff ends in a test");

        // The actor step that started the backoff sent RDY 0 to the other connections (the failed one paused itself with its REQ).
        Assert.NotNull(atBackoff);
        Assert.Equal(3, atBackoff.Count);
        Assert.All(atBackoff.Where(kv => kv.Key != failedOn), kv => Assert.Equal(0, kv.Value));

        // Those RDY 0 went out before the REQ, so nsqd delivered nothing beyond what was in flight then: the failed
        // message did not come straight back, and at most the rest of the window was handled before the test RDY 1.
        var afterPause = calls.Where(c => c.AfterPause && !c.TestingSeen).ToList();
        Assert.All(afterPause, c => Assert.Equal(1, c.Attempts));
        Assert.InRange(afterPause.Count, 0, window - 1);
        Assert.Empty(recorder.Violations);
    }

    [Fact]
    public async Task Authenticated_event_carries_the_connection_and_the_identity()
    {
        await using var authServer = TestAuthServer.Start(new AllowAll());
        await using var nsqd = await servers.StartNsqdAsync(["--auth-http-address=" + authServer.Address], TestContext.Current.CancellationToken);
        var auth = new TaskCompletionSource<(object? Sender, NsqReaderAuthenticatedEventArgs Args)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var reader = new NsqReader(
            Fast(_topic, _channel) with
            {
                NsqdTcpAddresses = [nsqd.TcpAddress],
                Connection = NsqdConnectionOptions.Default with { AuthSecret = "s3cret" },
            },
            (_, _) => ValueTask.CompletedTask);
        reader.Authenticated += (sender, e) => auth.TrySetResult((sender, e));
        await reader.StartAsync(TestContext.Current.CancellationToken);

        var (sender, args) = await auth.Task.WaitAsync(WaitLimit, TestContext.Current.CancellationToken);

        Assert.Same(reader, sender);
        Assert.Equal("reader-tester", args.Response.Identity);
        Assert.EndsWith(":" + nsqd.TcpEndPoint.Port, args.Connection.Address, StringComparison.Ordinal);
        await WaitUntilAsync(() => reader.Connections.Count == 1, "subscribed after AUTH");
        Assert.Same(args.Connection, reader.Connections[0]);
    }

    private sealed class AllowAll : INsqdAuthorizer
    {
        public ValueTask<NsqdAuthState?> AuthorizeAsync(NsqdAuthRequest request, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<NsqdAuthState?>(new NsqdAuthState
            {
                Identity = "reader-tester",
                Authorizations = [new NsqdAuthorization { Topic = ".*", Channels = [".*"], Permissions = ["publish", "subscribe"] }],
            });
    }

    private sealed class CountingHandler : DelegatingHandler
    {
        private int _failures;

        public CountingHandler()
            : base(new SocketsHttpHandler())
        {
        }

        public int Failures => Volatile.Read(ref _failures);

        public bool Fail { get; set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Fail)
            {
                Interlocked.Increment(ref _failures);
                throw new HttpRequestException("simulated lookupd outage");
            }

            try
            {
                return await base.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref _failures);
                throw;
            }
        }
    }
}
