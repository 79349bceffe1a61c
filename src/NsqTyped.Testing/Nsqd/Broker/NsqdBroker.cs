using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqTyped.Testing.Nsqd.Auth;

namespace NsqTyped.Testing.Nsqd.Broker;

/// <summary>
/// The in-memory heart of the embedded nsqd: topics by name, the connected clients, the message id
/// source, the clock and the single queue-scan loop that handles in-flight timeouts and deferred
/// messages for every channel (no per-message timers). The TCP protocol and the HTTP API are thin
/// layers over it; nsqlookupd registration hooks its events.
/// </summary>
internal sealed partial class NsqdBroker : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, NsqdTopic> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, NsqdClient> _clients = new();
    private readonly object _topicLock = new();
    private readonly long _startTimestamp;
    private readonly SemaphoreSlim _scanSignal = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ITimer _scanTimer;
    private readonly ILogger _logger;
    private long _nextScan = long.MaxValue;
    private int _scanSignaled;
    private Task _scanLoop = Task.CompletedTask;

    public NsqdBroker(EmbeddedNsqdOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        Time = options.TimeProvider;
        StartTime = Time.GetUtcNow();
        _startTimestamp = Time.GetTimestamp();
        Ids = new NsqdMessageIdGenerator(Time);
        LoggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        Authorizer = NsqdAuthorizers.Create(options);
        _logger = LoggerFactory.CreateLogger("NsqTyped.Testing.Nsqd.Broker");
        _scanTimer = Time.CreateTimer(static state => ((NsqdBroker)state!).SignalScan(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The options the server was started with.</summary>
    public EmbeddedNsqdOptions Options { get; }

    /// <summary>The clock for timeouts, deferrals and timestamps.</summary>
    public TimeProvider Time { get; }

    /// <summary>When the broker started (<c>start_time</c> in <c>/stats</c>).</summary>
    public DateTimeOffset StartTime { get; }

    /// <summary>Loggers for the server's components.</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>The authorizer (in-process and/or auth HTTP servers); <see langword="null"/> when auth is off.</summary>
    public INsqdAuthorizer? Authorizer { get; }

    /// <summary>Whether AUTH is required (nsqd's IsAuthEnabled).</summary>
    public bool IsAuthEnabled => Authorizer is not null;

    /// <summary>The TCP listener's end point once started.</summary>
    public IPEndPoint? TcpEndPoint { get; internal set; }

    /// <summary>The HTTP listener's end point once started (set by the HTTP layer).</summary>
    public IPEndPoint? HttpEndPoint { get; set; }

    /// <summary>The HTTPS listener's end point once started (set by the HTTP layer).</summary>
    public IPEndPoint? HttpsEndPoint { get; set; }

    internal NsqdMessageIdGenerator Ids { get; }

    /// <summary>Raised after a topic was created (outside any lock).</summary>
    public event Action<NsqdTopic>? TopicCreated;

    /// <summary>Raised after a topic was deleted.</summary>
    public event Action<NsqdTopic>? TopicDeleted;

    /// <summary>Raised after a channel was created.</summary>
    public event Action<NsqdChannel>? ChannelCreated;

    /// <summary>Raised after a channel was deleted.</summary>
    public event Action<NsqdChannel>? ChannelDeleted;

    /// <summary>Broker clock in <see cref="TimeSpan"/> ticks since start (monotonic).</summary>
    internal long NowTicks => Time.GetElapsedTime(_startTimestamp).Ticks;

    /// <summary>Wall-clock time in nanoseconds since the Unix epoch (message timestamps).</summary>
    internal long UnixNanoseconds => (Time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>Topics sorted by name (a snapshot).</summary>
    public IReadOnlyList<NsqdTopic> Topics => [.. _topics.Values.OrderBy(t => t.Name, StringComparer.Ordinal)];

    /// <summary>Connected clients (a snapshot, by connection order).</summary>
    public IReadOnlyList<NsqdClient> Clients => [.. _clients.Values.OrderBy(c => c.Id)];

    /// <summary>Starts the queue-scan loop.</summary>
    public void Start() => _scanLoop = Task.Run(ScanLoopAsync);

    /// <summary>Finds a topic.</summary>
    public bool TryGetTopic(string name, out NsqdTopic topic) => _topics.TryGetValue(name, out topic!);

    /// <summary>Returns the topic, creating it when new (the name must be valid).</summary>
    public NsqdTopic GetOrCreateTopic(string name)
    {
        if (_topics.TryGetValue(name, out var topic))
        {
            return topic;
        }

        lock (_topicLock)
        {
            if (_topics.TryGetValue(name, out topic))
            {
                return topic;
            }

            topic = new NsqdTopic(this, name);
            _topics[name] = topic;
        }

        TopicCreated?.Invoke(topic);
        return topic;
    }

    /// <summary>Deletes a topic with its channels (their clients are disconnected).</summary>
    public bool DeleteTopic(string name)
    {
        NsqdTopic? topic;
        lock (_topicLock)
        {
            if (!_topics.TryRemove(name, out topic))
            {
                return false;
            }
        }

        topic.Delete();
        TopicDeleted?.Invoke(topic);
        return true;
    }

    internal void RaiseChannelCreated(NsqdChannel channel) => ChannelCreated?.Invoke(channel);

    internal void RaiseChannelDeleted(NsqdChannel channel) => ChannelDeleted?.Invoke(channel);

    internal void AddClient(NsqdClient client) => _clients[client.Id] = client;

    internal void RemoveClient(NsqdClient client) => _clients.TryRemove(client.Id, out _);

    /// <summary>Asks the scan loop to run no later than <paramref name="deadline"/> (broker ticks).</summary>
    internal void ScheduleScan(long deadline)
    {
        var current = Volatile.Read(ref _nextScan);
        while (deadline < current)
        {
            var seen = Interlocked.CompareExchange(ref _nextScan, deadline, current);
            if (seen == current)
            {
                // An earlier deadline than the loop planned for: let it re-plan now.
                SignalScan();
                return;
            }

            current = seen;
        }
    }

    private void SignalScan()
    {
        if (Interlocked.Exchange(ref _scanSignaled, 1) == 0)
        {
            _scanSignal.Release();
        }
    }

    private async Task ScanLoopAsync()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _scanSignal.WaitAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Volatile.Write(ref _scanSignaled, 0);
            Volatile.Write(ref _nextScan, long.MaxValue);
            var now = NowTicks;
            var next = long.MaxValue;
            foreach (var topic in _topics.Values)
            {
                foreach (var channel in topic.ChannelArray)
                {
                    try
                    {
                        next = Math.Min(next, channel.ProcessDue(now));
                    }
                    catch (Exception ex)
                    {
                        // One broken channel must not stop timeouts and deferrals everywhere else.
                        LogScanFailed(_logger, topic.Name, channel.Name, ex);
                    }
                }
            }

            // Merge with deadlines scheduled while scanning (they may already have signalled).
            var current = Volatile.Read(ref _nextScan);
            while (next < current)
            {
                var seen = Interlocked.CompareExchange(ref _nextScan, next, current);
                if (seen == current)
                {
                    break;
                }

                current = seen;
            }

            var planned = Volatile.Read(ref _nextScan);
            if (planned == long.MaxValue)
            {
                _scanTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
            else
            {
                var delay = TimeSpan.FromTicks(Math.Max(0, planned - NowTicks));

                // Timers may round down; the deadline check in ProcessDue keeps deliveries from
                // being early, and a timer firing slightly early just causes one more short wait.
                _scanTimer.Change(delay, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>Stops the scan loop and deletes nothing (clients are closed by the listeners).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _scanTimer.Dispose();
        try
        {
            await _scanLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var client in _clients.Values)
        {
            client.CloseConnection();
        }

        if (Authorizer is IDisposable disposable)
        {
            disposable.Dispose();
        }

        _stopping.Dispose();
        _scanSignal.Dispose();
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Error, Message = "nsqd queue scan failed for {Topic}/{Channel}")]
    private static partial void LogScanFailed(ILogger logger, string topic, string channel, Exception exception);
}
