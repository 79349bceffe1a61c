using Microsoft.Extensions.Logging;
using NsqTyped.Tests.Support;
using static NsqTyped.Tests.Reader.ReaderTestKit;

namespace NsqTyped.Tests.Reader;

/// <summary>
/// At MaxInFlight 1 the handler runs on the connection's read loop thread, in front of the loop's next read,
/// which is issued when the handler returns (docs/reader.md, "Performance"). A handler that blocks that thread
/// must still not stop the connection: the watch issues the read on another thread.
/// </summary>
public sealed class NsqReaderInlineTests(NsqTestServers servers)
{
    private const int HeartbeatAnswered = 1005;
    private const int WatchdogExpired = 1006;
    private const int ConnectionFailed = 1004;

    private readonly string _topic = NsqTestServers.UniqueTopic("inline");
    private readonly string _channel = NsqTestServers.UniqueChannel("ch");
    private readonly RecordingLoggerProvider _log = new();

    private NsqReaderOptions OptionsWith(ILoggerFactory logging, TimeSpan heartbeat) => Fast(_topic, _channel) with
    {
        NsqdTcpAddresses = [servers.NsqdTcpAddress],
        MaxInFlight = 1,
        Connection = NsqdConnectionOptions.Default with { HeartbeatInterval = heartbeat, LoggerFactory = logging },
    };

    [Fact]
    public async Task At_max_in_flight_1_a_handler_runs_in_front_of_its_connections_next_read()
    {
        using var logging = LoggerFactory.Create(b => b.AddProvider(_log));
        var handled = 0;
        var inFront = 0;
        NsqReader? self = null;
        await using var reader = new NsqReader(OptionsWith(logging, TimeSpan.FromSeconds(5)), (_, _) =>
        {
            if (self!.Connections.Any(c => c.Connection.IsParkedBehindCurrentThread))
            {
                Interlocked.Increment(ref inFront);
            }

            Interlocked.Increment(ref handled);
            return ValueTask.CompletedTask;
        });
        self = reader;
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 5);

        await WaitUntilAsync(() => Volatile.Read(ref handled) == 5, "every message handled");
        Assert.InRange(Volatile.Read(ref inFront), 1, 5);
    }

    [Fact]
    public async Task A_handler_blocking_on_a_publish_through_its_own_Reader_completes()
    {
        using var logging = LoggerFactory.Create(b => b.AddProvider(_log).SetMinimumLevel(LogLevel.Trace));
        var echoes = NsqTestServers.UniqueTopic("echo");
        var handled = 0;
        NsqReader? self = null;
        await using var reader = new NsqReader(OptionsWith(logging, TimeSpan.FromSeconds(5)), (m, _) =>
        {
            // Sync over async: nsqd's OK for this publish arrives on the very connection that delivered m.
            self!.PublishAsync(echoes, m.Body).AsTask().GetAwaiter().GetResult();
            Interlocked.Increment(ref handled);
            return ValueTask.CompletedTask;
        });
        self = reader;
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 3);

        await WaitUntilAsync(() => Volatile.Read(ref handled) == 3, "every handler's publish was acknowledged");
        await WaitUntilAsync(async () => await ChannelStatsAsync(servers.NsqdHttpAddress.ToString(), _topic, _channel) is { Depth: 0, InFlightCount: 0 }, "every message finished");
        using var http = new NsqdHttpClient(servers.NsqdHttpAddress.ToString());
        var stats = await http.StatsAsync(echoes, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(3, stats.FindTopic(echoes)?.MessageCount);
        Assert.Equal(0, _log.Count(ConnectionFailed));
    }

    [Fact]
    public async Task A_handler_blocking_for_several_heartbeats_keeps_its_connection()
    {
        using var logging = LoggerFactory.Create(b => b.AddProvider(_log).SetMinimumLevel(LogLevel.Trace));
        using var release = new ManualResetEventSlim();
        var heartbeatsAtStart = -1;
        var handled = 0;
        await using var reader = new NsqReader(OptionsWith(logging, TimeSpan.FromSeconds(1)), (_, _) =>
        {
            Volatile.Write(ref heartbeatsAtStart, _log.Count(HeartbeatAnswered));
            release.Wait(WaitLimit);
            Interlocked.Increment(ref handled);
            return ValueTask.CompletedTask;
        });
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 1);

        // Three heartbeats answered while the handler holds its thread: over two intervals without reading would
        // have the client's liveness check (and nsqd) close the connection.
        await WaitUntilAsync(() => Volatile.Read(ref heartbeatsAtStart) >= 0 && _log.Count(HeartbeatAnswered) >= Volatile.Read(ref heartbeatsAtStart) + 3, "heartbeats answered while the handler blocks");
        Assert.Equal(0, Volatile.Read(ref handled));
        release.Set();

        await WaitUntilAsync(async () => await ChannelStatsAsync(servers.NsqdHttpAddress.ToString(), _topic, _channel) is { Depth: 0, InFlightCount: 0 }, "the message finished");
        Assert.Equal(1, Volatile.Read(ref handled));
        Assert.Equal(0, _log.Count(WatchdogExpired));
        Assert.Equal(0, _log.Count(ConnectionFailed));
        Assert.Single(reader.Connections);
    }
}
