using System.Collections.Concurrent;
using System.Diagnostics;
using NsqTyped.Reader;

namespace NsqTyped.Tests.Reader;

/// <summary>Shared helpers of the Reader integration tests: fast options, publishing, server stats, RDY recording.</summary>
internal static class ReaderTestKit
{
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(15);

    /// <summary>Short intervals so behaviour that takes seconds by default takes milliseconds here.</summary>
    public static NsqReaderOptions Fast(string topic, string channel) => new()
    {
        Topic = topic,
        Channel = channel,
        LookupdPollInterval = TimeSpan.FromMilliseconds(200),
        LowReadyIdleTimeout = TimeSpan.FromMilliseconds(300),
        MaxBackoffDuration = TimeSpan.FromSeconds(2),
        RequeueDelay = TimeSpan.Zero,
        ReconnectDelay = TimeSpan.FromMilliseconds(100),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
        Connection = NsqdConnectionOptions.Default with { HeartbeatInterval = TimeSpan.FromSeconds(5) },
    };

    public static async Task PublishAsync(string tcpAddress, string topic, int count, string prefix = "m")
    {
        await using var connection = await NsqdConnection.ConnectAsync(tcpAddress, cancellationToken: TestContext.Current.CancellationToken);
        const int batch = 100;
        for (var start = 0; start < count; start += batch)
        {
            var bodies = Enumerable.Range(start, Math.Min(batch, count - start))
                .Select(i => (ReadOnlyMemory<byte>)System.Text.Encoding.UTF8.GetBytes($"{prefix}{i}"))
                .ToList();
            await connection.PublishManyAsync(topic, bodies, TestContext.Current.CancellationToken);
        }
    }

    public static async Task<NsqdChannelStats?> ChannelStatsAsync(string httpAddress, string topic, string channel)
    {
        using var http = new NsqdHttpClient(httpAddress);
        var stats = await http.StatsAsync(topic, channel, cancellationToken: TestContext.Current.CancellationToken);
        return stats.FindTopic(topic)?.FindChannel(channel);
    }

    public static string Text(NsqMessage message) => System.Text.Encoding.UTF8.GetString(message.Body.Span);

    public static Task WaitUntilAsync(Func<bool> condition, string because, TimeSpan? timeout = null) =>
        Support.NsqTestServers.WaitUntilAsync(condition, timeout ?? WaitLimit, because);

    public static Task WaitUntilAsync(Func<ValueTask<bool>> condition, string because, TimeSpan? timeout = null) =>
        Support.NsqTestServers.WaitUntilAsync(condition, timeout ?? WaitLimit, because);
}

/// <summary>
/// Records every RDY decision of a Reader through its internal hooks and checks the invariants at
/// each one: Σ RDY ≤ max_in_flight, each RDY ≤ that connection's max_rdy_count.
/// </summary>
internal sealed class RdyRecorder
{
    private readonly object _gate = new();
    private readonly Dictionary<string, long> _current = [];
    private readonly long _maxInFlight;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public RdyRecorder(NsqReader reader)
    {
        _maxInFlight = reader.Options.MaxInFlight;
        reader.RdySent += OnRdy;
        reader.SessionRemoved += OnRemoved;
        reader.BackoffHook += (phase, counter) =>
        {
            lock (_gate)
            {
                Phases.Add((_clock.Elapsed, phase, counter));
            }
        };
    }

    public List<string> Violations { get; } = [];

    public List<(TimeSpan At, string Session, long Rdy)> History { get; } = [];

    public List<(TimeSpan At, RdyPhase Phase, int Counter)> Phases { get; } = [];

    public ConcurrentDictionary<string, bool> EverHeld { get; } = new();

    public int Commands { get; private set; }

    public long Total
    {
        get
        {
            lock (_gate)
            {
                return _current.Values.Sum();
            }
        }
    }

    public IReadOnlyDictionary<string, long> Snapshot()
    {
        lock (_gate)
        {
            return new Dictionary<string, long>(_current);
        }
    }

    public List<(TimeSpan At, RdyPhase Phase, int Counter)> PhasesSnapshot()
    {
        lock (_gate)
        {
            return [.. Phases];
        }
    }

    private void OnRdy(string session, long rdy, long maxRdy)
    {
        lock (_gate)
        {
            Commands++;
            _current[session] = rdy;
            History.Add((_clock.Elapsed, session, rdy));
            if (rdy > 0)
            {
                EverHeld[session] = true;
            }

            if (rdy > maxRdy)
            {
                Violations.Add($"RDY {rdy} on {session} above its max_rdy_count {maxRdy}");
            }

            var sum = _current.Values.Sum();
            if (sum > _maxInFlight)
            {
                Violations.Add($"Σ RDY {sum} above max_in_flight {_maxInFlight} after RDY {rdy} on {session}");
            }
        }
    }

    private void OnRemoved(string session)
    {
        lock (_gate)
        {
            _current.Remove(session);
        }
    }
}
