using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqTyped.Diagnostics;
using NsqTyped.Internal;
using NsqTyped.Protocol;
using NsqTyped.Reader;

namespace NsqTyped;

/// <summary>
/// Publishes to one or more nsqd over a pool of pipelined TCP connections, with reconnect (jittered
/// exponential backoff), failover between nsqd, a per-call timeout and an explicit policy while
/// disconnected.
/// </summary>
/// <remarks>
/// <para>
/// A publish completes when nsqd acknowledged it, or throws; it is never dropped silently. When the
/// connection carrying a publish dies before the acknowledgement, the publish throws an
/// <see cref="NsqConnectionException"/> and is <b>not</b> retried: nsqd may have stored it, and a
/// silent retry could duplicate it. Retry in the application if duplicates are acceptable (NSQ
/// delivers at least once anyway). A publish that could not be written at all (its connection had
/// already closed) moves to another connection, because nsqd cannot have seen it.
/// </para>
/// <para>
/// Idle connections stay alive: each connection's read loop answers nsqd's heartbeats, so the first
/// publish after a quiet period is not lost (gnsq#12), and its watchdog notices a dead link within two
/// heartbeat intervals so the producer reconnects before the next publish needs it.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// await using var producer = new NsqProducer(["127.0.0.1:4150"]);
/// await producer.PublishAsync("orders", "hello"u8.ToArray());
/// </code>
/// </example>
public sealed class NsqProducer : INsqPublisher, IAsyncDisposable, IPublishOwner
{
    private readonly Slot[] _slots;
    private readonly NsqProducerOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _gate = new();
    private readonly OutstandingLimit _limit;
    private TaskCompletionSource _stateChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task[] _supervisors = [];
    private int _started;
    private int _next;
    private string? _lastValidTopic;
    private Task? _disposeTask;

    /// <summary>Creates a producer for one nsqd. Nothing connects until <see cref="ConnectAsync"/> or the first publish.</summary>
    /// <param name="nsqdAddress">nsqd's TCP address, <c>host:port</c>.</param>
    /// <param name="options">Options; <see cref="NsqProducerOptions.Default"/> when <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">The address is empty or malformed, or an option is out of range.</exception>
    public NsqProducer(string nsqdAddress, NsqProducerOptions? options = null)
        : this([nsqdAddress], options)
    {
    }

    /// <summary>Creates a producer for several nsqd. Nothing connects until <see cref="ConnectAsync"/> or the first publish.</summary>
    /// <param name="nsqdAddresses">nsqd TCP addresses, <c>host:port</c>; at least one.</param>
    /// <param name="options">Options; <see cref="NsqProducerOptions.Default"/> when <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">No address is given, one is empty or malformed, or an option is out of range.</exception>
    public NsqProducer(IEnumerable<string> nsqdAddresses, NsqProducerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(nsqdAddresses);
        _options = options ?? NsqProducerOptions.Default;
        _options.Validate();
        var addresses = nsqdAddresses.Select(a => NsqEndpoint.Parse(a, NsqdConnectionOptions.DefaultTcpPort, nameof(nsqdAddresses)).ToString()).Distinct().ToArray();
        if (addresses.Length == 0)
        {
            throw new ArgumentException("A producer needs at least one nsqd address.", nameof(nsqdAddresses));
        }

        Addresses = addresses;
        _slots = [.. addresses.SelectMany(a => Enumerable.Range(0, _options.ConnectionsPerNode).Select(_ => new Slot(a)))];
        _logger = _options.Connection.LoggerFactory?.CreateLogger<NsqProducer>() ?? (ILogger)NullLogger.Instance;
        _limit = new OutstandingLimit(_options.MaxOutstandingPublishes, _options.MaxOutstandingBytes);
    }

    /// <summary>The nsqd addresses this producer publishes to.</summary>
    public IReadOnlyList<string> Addresses { get; }

    /// <summary>The options.</summary>
    public NsqProducerOptions Options => _options;

    /// <summary>Whether at least one connection is open.</summary>
    public bool IsConnected => ConnectedCount > 0;

    /// <summary>How many of the pool's connections are open.</summary>
    public int ConnectedCount => _slots.Count(s => s.Current is { IsConnected: true });

    /// <summary>Publishes called and not yet answered (each MPUB counting its messages); at most <see cref="NsqProducerOptions.MaxOutstandingPublishes"/>.</summary>
    public int OutstandingPublishes => _limit.Count;

    /// <summary>The open connections right now (for diagnostics and tests).</summary>
    public IReadOnlyList<NsqdConnection> Connections => [.. _slots.Select(s => s.Current).OfType<NsqdConnection>().Where(c => c.IsConnected)];

    /// <summary>
    /// Starts connecting every pooled connection and waits until one is open (or until
    /// <see cref="NsqProducerOptions.DisconnectedWaitTimeout"/>). Publishing starts the pool too, so calling
    /// this is optional; it surfaces configuration errors early.
    /// </summary>
    /// <param name="cancellationToken">Cancels waiting (the pool keeps connecting).</param>
    /// <exception cref="NsqConnectionException">No connection opened in time; the inner exception is the last connect error.</exception>
    public async ValueTask ConnectAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        EnsureStarted();
        var started = Stopwatch.GetTimestamp();
        _ = await AcquireAsync(_options.DisconnectedWaitTimeout, NsqDisconnectedPolicy.WaitForConnection, started, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The topic is invalid, or the body is empty or too large.</exception>
    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
        NsqTelemetry.PublishObserved
            ? NsqTelemetry.ObservePublishAsync(topic, 1, "PUB", (Producer: this, Topic: topic, Body: body, Token: cancellationToken), static s => s.Producer.PublishCoreAsync(s.Topic, s.Body, s.Token))
            : PublishFastAsync(topic, body, cancellationToken);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The topic is invalid, the list is empty, or a body is empty or too large.</exception>
    public ValueTask PublishManyAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, CancellationToken cancellationToken = default) =>
        NsqTelemetry.PublishObserved
            ? NsqTelemetry.ObservePublishAsync(topic, bodies?.Count ?? 0, "MPUB", (Producer: this, Topic: topic, Bodies: bodies!, Token: cancellationToken), static s => s.Producer.PublishManyCoreAsync(s.Topic, s.Bodies, s.Token))
            : PublishManyCoreAsync(topic, bodies!, cancellationToken);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The topic is invalid, or the body is empty or too large.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative or above <see cref="NsqdConnectionOptions.MaxReqTimeout"/> of <see cref="NsqProducerOptions.Connection"/>.</exception>
    public ValueTask PublishDeferredAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, CancellationToken cancellationToken = default) =>
        NsqTelemetry.PublishObserved
            ? NsqTelemetry.ObservePublishAsync(topic, 1, "DPUB", (Producer: this, Topic: topic, Body: body, Delay: delay, Token: cancellationToken), static s => s.Producer.PublishDeferredCoreAsync(s.Topic, s.Body, s.Delay, s.Token))
            : PublishDeferredCoreAsync(topic, body, delay, cancellationToken);

    /// <summary>
    /// The common case without an async frame of the producer's own: room among the outstanding publishes and
    /// an open connection are at hand, so the caller awaits the connection's operation directly. That operation
    /// gives the room back when it completes, and a coalesced publish its connection never wrote comes back
    /// through <see cref="IPublishOwner.Resubmit"/>, so failover is the same as on the full path. Everything
    /// else (no room, no connection, bad arguments, a connection that refused) takes <see cref="PublishCoreAsync"/>.
    /// </summary>
    private ValueTask PublishFastAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested || _stopping.IsCancellationRequested || !IsValidTopic(topic)
            || body.Length == 0 || body.Length > _options.Connection.MaxMessageSize || !_limit.TryEnter(1, body.Length))
        {
            return PublishCoreAsync(topic!, body, cancellationToken);
        }

        if (TryPick() is not { } connection)
        {
            _limit.Exit(1, body.Length);
            return PublishCoreAsync(topic, body, cancellationToken);
        }

        var publish = connection.PublishAsync(topic, body, _options.PublishTimeout, _options.CoalescePublishes, _options.PublishLinger, cancellationToken, owner: this);
        if (publish.IsCompletedSuccessfully || !publish.IsCompleted)
        {
            return publish;
        }

        // Completed at once with a failure (the room is already given back): one that was never written goes the full way.
        var failed = publish.AsTask();
        return failed.Exception?.InnerException is NsqNotSentException ? PublishCoreAsync(topic, body, cancellationToken) : new ValueTask(failed);
    }

    /// <summary>
    /// Whether <paramref name="topic"/> is a valid topic name; the string last found valid is remembered, so
    /// an application that publishes to one topic (the usual case) pays a reference comparison, not a scan.
    /// </summary>
    private bool IsValidTopic(string? topic)
    {
        if (topic is null)
        {
            return false;
        }

        if (ReferenceEquals(topic, _lastValidTopic))
        {
            return true;
        }

        if (!NsqNames.IsValidTopicName(topic))
        {
            return false;
        }

        _lastValidTopic = topic;
        return true;
    }

    void IPublishOwner.Completed(int count, long bytes) => _limit.Exit(count, bytes);

    void IPublishOwner.Resubmit(PendingOperation op, string topic, byte[] body, Exception notSent) =>
        _ = Task.Run(() => ResubmitAsync(op, topic, body, notSent), CancellationToken.None);

    /// <summary>A fast-path publish its connection never wrote: sent on another connection, like <see cref="PublishCoreAsync"/> does; its room is still held by <paramref name="op"/>.</summary>
    private async Task ResubmitAsync(PendingOperation op, string topic, byte[] body, Exception notSent)
    {
        try
        {
            var started = Stopwatch.GetTimestamp();
            for (var attempt = 0; ; attempt++)
            {
                if (op.IsCompleted)
                {
                    return;   // timed out or canceled meanwhile
                }

                if (_stopping.IsCancellationRequested || attempt > _slots.Length)
                {
                    op.TrySetException(notSent);
                    return;
                }

                var connection = await AcquireAsync(_options.DisconnectedWaitTimeout, _options.DisconnectedPolicy, started, CancellationToken.None).ConfigureAwait(false);
                try
                {
                    await connection.PublishAsync(topic, body, Remaining(started), _options.CoalescePublishes, _options.PublishLinger, CancellationToken.None).ConfigureAwait(false);
                    op.TrySetResult();
                    return;
                }
                catch (NsqNotSentException ex)
                {
                    Log.ProducerFailover(_logger, connection.Address, ex.Message);
                    notSent = ex;
                }
            }
        }
        catch (Exception ex)
        {
            op.TrySetException(ex);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask PublishCoreAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        ThrowIfInvalidBody(body.Length, nameof(body));
        var started = Stopwatch.GetTimestamp();
        await EnterAsync(1, body.Length, started, cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var connection = await AcquireAsync(_options.DisconnectedWaitTimeout, _options.DisconnectedPolicy, started, cancellationToken).ConfigureAwait(false);
                try
                {
                    await connection.PublishAsync(topic, body, Remaining(started), _options.CoalescePublishes, _options.PublishLinger, cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (NsqNotSentException ex) when (attempt < _slots.Length)
                {
                    // Never written (a coalesced batch included): nsqd cannot have seen it.
                    Log.ProducerFailover(_logger, connection.Address, ex.Message);
                }
            }
        }
        finally
        {
            _limit.Exit(1, body.Length);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask PublishManyCoreAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, CancellationToken cancellationToken)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        var payload = PublishValidation.ThrowIfInvalidBatch(bodies, _options.Connection.MaxMessageSize, MaxMessageSizeName, nameof(bodies));
        var total = 4 + 4L * bodies.Count + payload;
        PublishValidation.ThrowIfBatchTooLarge(total, _options.Connection.MaxBodySize, "NsqdConnectionOptions.MaxBodySize", nameof(bodies));

        var started = Stopwatch.GetTimestamp();
        await EnterAsync(bodies.Count, payload, started, cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var connection = await AcquireAsync(_options.DisconnectedWaitTimeout, _options.DisconnectedPolicy, started, cancellationToken).ConfigureAwait(false);
                try
                {
                    await connection.PublishManyAsync(topic, bodies, Remaining(started), cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (NsqNotSentException ex) when (attempt < _slots.Length)
                {
                    Log.ProducerFailover(_logger, connection.Address, ex.Message);
                }
            }
        }
        finally
        {
            _limit.Exit(bodies.Count, payload);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask PublishDeferredCoreAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, CancellationToken cancellationToken)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        ThrowIfInvalidBody(body.Length, nameof(body));
        PublishValidation.ThrowIfInvalidDelay(delay, _options.Connection.MaxReqTimeout, "NsqdConnectionOptions.MaxReqTimeout", "DPUB", nameof(delay));
        var started = Stopwatch.GetTimestamp();
        await EnterAsync(1, body.Length, started, cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var connection = await AcquireAsync(_options.DisconnectedWaitTimeout, _options.DisconnectedPolicy, started, cancellationToken).ConfigureAwait(false);
                try
                {
                    await connection.PublishDeferredAsync(topic, body, delay, Remaining(started), cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (NsqNotSentException ex) when (attempt < _slots.Length)
                {
                    Log.ProducerFailover(_logger, connection.Address, ex.Message);
                }
            }
        }
        finally
        {
            _limit.Exit(1, body.Length);
        }
    }

    /// <summary>Stops reconnecting and closes every connection; publishes still waiting fail with <see cref="NsqConnectionException"/>. Idempotent.</summary>
    public ValueTask DisposeAsync() => DisposeOnce.RunAsync(ref _disposeTask, DisposeCoreAsync);

    private async Task DisposeCoreAsync()
    {
        _stopping.Cancel();
        SignalStateChanged();
        await Task.WhenAll(_supervisors).ConfigureAwait(false);
        foreach (var slot in _slots)
        {
            if (slot.Current is { } connection)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private void EnsureStarted()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }

        lock (_gate)
        {
            if (_stopping.IsCancellationRequested)
            {
                return;
            }

            _supervisors = [.. _slots.Select(slot => Task.Run(() => SuperviseAsync(slot, _stopping.Token)))];
        }
    }

    /// <summary>Waits for room among the outstanding publishes (<see cref="NsqProducerOptions.MaxOutstandingPublishes"/>, <see cref="NsqProducerOptions.MaxOutstandingBytes"/>).</summary>
    private async ValueTask EnterAsync(int count, long bytes, long started, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        var waiting = _limit.EnterAsync(count, bytes, Remaining(started), cancellationToken);
        if (waiting.IsCompletedSuccessfully)
        {
            return;
        }

        try
        {
            await waiting.ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new NsqTimeoutException(
                $"The publish timeout ({_options.PublishTimeout.TotalMilliseconds:0} ms) ran out while waiting for room among the outstanding publishes " +
                $"(at most {_options.MaxOutstandingPublishes} publishes and {_options.MaxOutstandingBytes} bytes; nsqd is not answering fast enough).", ex);
        }
    }

    private TimeSpan Remaining(long started)
    {
        if (_options.PublishTimeout == Timeout.InfiniteTimeSpan)
        {
            return Timeout.InfiniteTimeSpan;
        }

        var remaining = _options.PublishTimeout - Stopwatch.GetElapsedTime(started);
        return remaining > TimeSpan.FromMilliseconds(1) ? remaining : TimeSpan.FromMilliseconds(1);
    }

    private async ValueTask<NsqdConnection> AcquireAsync(TimeSpan waitTimeout, NsqDisconnectedPolicy policy, long started, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        EnsureStarted();
        while (true)
        {
            var changed = Volatile.Read(ref _stateChanged).Task;
            if (TryPick() is { } connection)
            {
                return connection;
            }

            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            if (_slots.All(s => s.Refusal is not null))
            {
                // Every nsqd refused for a reason retrying does not fix (auth, certificates): say so now, not after the wait.
                var refusal = _slots[^1].Refusal!;
                throw new NsqHandshakeRefusedException($"nsqd ({string.Join(", ", Addresses)}) refused the connection: {refusal.Message}", refusal);
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            var waitLeft = waitTimeout - elapsed;
            var publishBound = false;
            if (_options.PublishTimeout != Timeout.InfiniteTimeSpan && _options.PublishTimeout - elapsed < waitLeft)
            {
                waitLeft = _options.PublishTimeout - elapsed;
                publishBound = true;
            }

            if (policy == NsqDisconnectedPolicy.FailFast || waitLeft <= TimeSpan.Zero)
            {
                var lastError = _slots.Select(s => s.LastError).LastOrDefault(e => e is not null);
                var where = string.Join(", ", Addresses);
                var last = lastError is null ? "" : " Last error: " + lastError.Message;
                if (policy == NsqDisconnectedPolicy.FailFast)
                {
                    throw new NsqConnectionException($"No open connection to nsqd ({where}) and the disconnected policy is FailFast.{last}", lastError);
                }

                if (publishBound)
                {
                    throw new NsqTimeoutException($"The publish timeout ({_options.PublishTimeout.TotalMilliseconds:0} ms) ran out while waiting for a connection to nsqd ({where}).{last}", lastError);
                }

                throw new NsqConnectionException($"No connection to nsqd ({where}) opened within {elapsed.TotalMilliseconds:0} ms.{last}", lastError);
            }

            try
            {
                await changed.WaitAsync(waitLeft, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Re-checked at the top of the loop, which reports the failure with the last connect error.
            }
        }
    }

    private NsqdConnection? TryPick()
    {
        if (_slots.Length == 1)
        {
            return _slots[0].Current is { IsConnected: true } only ? only : null;
        }

        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)_slots.Length);
        for (var i = 0; i < _slots.Length; i++)
        {
            var connection = _slots[(start + i) % _slots.Length].Current;
            if (connection is { IsConnected: true })
            {
                return connection;
            }
        }

        return null;
    }

    private void SignalStateChanged()
    {
        var previous = Interlocked.Exchange(ref _stateChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        previous.TrySetResult();
    }

    /// <summary>
    /// One loop per pooled connection with explicit states: connect → open (until it closes) → back off →
    /// connect again, until the producer is disposed.
    /// </summary>
    private async Task SuperviseAsync(Slot slot, CancellationToken stopping)
    {
        var backoff = new NsqBackoffPolicy(_options.ReconnectMaxDelay, _options.ReconnectBaseDelay);
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            slot.State = SlotState.Connecting;
            Log.ProducerConnecting(_logger, slot.Address);
            var connection = new NsqdConnection(slot.Address, _options.Connection);
            try
            {
                await connection.ConnectAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                slot.LastError = ex;
                slot.Refusal = ConnectRefusal.IsPermanent(ex) ? ex : null;
                failures = Math.Min(failures + 1, Math.Max(1, backoff.MaxCounter));
                var delay = backoff.NextDelay(failures, Random.Shared);
                Log.ProducerConnectFailed(_logger, slot.Address, (long)delay.TotalMilliseconds, ex);
                slot.State = SlotState.BackingOff;
                SignalStateChanged();
                if (!await DelayAsync(delay, stopping).ConfigureAwait(false))
                {
                    break;
                }

                continue;
            }
            catch (Exception)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                break;
            }

            failures = 0;
            slot.LastError = null;
            slot.Refusal = null;
            slot.Current = connection;
            slot.State = SlotState.Open;
            Log.ProducerConnected(_logger, slot.Address);
            SignalStateChanged();

            await Task.WhenAny(connection.Completion, Task.Delay(Timeout.Infinite, stopping)).ConfigureAwait(false);
            if (stopping.IsCancellationRequested)
            {
                break;
            }

            slot.Current = null;
            slot.LastError = connection.CloseReason;
            Log.ProducerConnectionLost(_logger, slot.Address, connection.CloseReason);
            await connection.DisposeAsync().ConfigureAwait(false);
            slot.State = SlotState.BackingOff;
            SignalStateChanged();

            // A server that accepts and then drops every connection must not be hammered in a tight loop.
            failures = 1;
            if (!await DelayAsync(backoff.NextDelay(failures, Random.Shared), stopping).ConfigureAwait(false))
            {
                break;
            }
        }

        slot.State = SlotState.Stopped;
    }

    private static async Task<bool> DelayAsync(TimeSpan delay, CancellationToken stopping)
    {
        try
        {
            await Task.Delay(delay, stopping).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private const string MaxMessageSizeName = "NsqdConnectionOptions.MaxMessageSize";

    private void ThrowIfInvalidBody(int length, string paramName) =>
        PublishValidation.ThrowIfInvalidBody(length, _options.Connection.MaxMessageSize, MaxMessageSizeName, paramName);

    private enum SlotState
    {
        Connecting,
        Open,
        BackingOff,
        Stopped,
    }

    private sealed class Slot(string address)
    {
        private volatile NsqdConnection? _current;
        private volatile Exception? _lastError;
        private volatile Exception? _refusal;

        public string Address { get; } = address;

        public NsqdConnection? Current
        {
            get => _current;
            set => _current = value;
        }

        public Exception? LastError
        {
            get => _lastError;
            set => _lastError = value;
        }

        /// <summary>The last connect attempt was refused for good (auth, certificates); <see langword="null"/> otherwise.</summary>
        public Exception? Refusal
        {
            get => _refusal;
            set => _refusal = value;
        }

        public SlotState State { get; set; }
    }
}
