using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqTyped.Diagnostics;
using NsqTyped.Internal;
using NsqTyped.Reader;

namespace NsqTyped;

/// <summary>
/// The high-level consumer (gnsq's <c>Consumer</c>/<c>Reader</c>): subscribes to one topic/channel on
/// every nsqd it is given or discovers through nsqlookupd, spreads <see cref="NsqReaderOptions.MaxInFlight"/>
/// over the connections, runs the handler on up to <see cref="NsqReaderOptions.MaxConcurrency"/> messages at
/// once, finishes or requeues them, backs off after failures and closes gracefully.
/// </summary>
/// <remarks>
/// <para>One actor loop owns the connections, the RDY counts and the backoff state; everything else
/// (sockets, handlers, timers, lookupd polls) only posts events to it, so the RDY invariants cannot
/// race. Handlers run on a worker pool, never on a connection's loop.</para>
/// <para>Without a handler the Reader is in pull mode: read messages with <see cref="ReadAllAsync"/> and
/// finish or requeue each one yourself.</para>
/// <para>See <c>docs/reader.md</c> for every option, the RDY and backoff algorithms and the events.</para>
/// </remarks>
/// <example>
/// <code>
/// await using var reader = new NsqReader(
///     new NsqReaderOptions { Topic = "orders", Channel = "billing", NsqdTcpAddresses = ["127.0.0.1:4150"] },
///     async (message, ct) => await BillAsync(message.Body, ct));
/// await reader.StartAsync();
/// ...
/// await reader.CloseAsync();
/// </code>
/// </example>
public sealed partial class NsqReader : INsqPublisher, IAsyncDisposable
{
    private const int StateCreated = 0;
    private const int StateRunning = 1;
    private const int StateClosing = 2;
    private const int StateClosed = 3;

    /// <summary>go-nsq's Stop() gives up after 30 s; DisposeAsync waits as long for outstanding messages.</summary>
    private static readonly TimeSpan DisposeCloseTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan SettleLimit = TimeSpan.FromSeconds(2);

    private readonly NsqReaderOptions _options;
    private readonly Func<NsqMessage, CancellationToken, ValueTask>? _handler;
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Random _random;
    // Not bounded by capacity, but by construction: per message only a failure, or an outcome while
    // backing off or while a grant waits, is posted; everything else is per connection or per timer.
    private readonly Channel<ReaderCommand> _commands = Channel.CreateUnbounded<ReaderCommand>(new UnboundedChannelOptions { SingleReader = true });

    // The one queue between the sockets and the handlers, sized by max_in_flight: the read loops write
    // each message here once. Σ in flight ≤ max_in_flight, so it only fills if nsqd overshoots a RDY
    // that was just lowered; then the read loop waits for room.
    private readonly Channel<NsqMessage> _work;
    private readonly RdyController<ReaderConnection> _rdy;
    private readonly NsqBackoffPolicy _reconnectBackoff;
    private readonly LookupdDiscovery _discovery = new();
    private readonly Channel<bool> _lookupRequests = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Dictionary<NsqEndpoint, EndpointState> _endpoints = [];
    private readonly NsqEndpoint[] _direct;
    private readonly LookupdClient[] _lookupds;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly CancellationTokenSource _handlerCancellation = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<ReaderConnection[]> _closeStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _workers = [];
    private readonly object _closeLock = new();

    private int _state;
    private int _backoffPhase;
    private int _backoffCounter;
    private volatile bool _reportOutcomes;
    private int _workerCount;

    // Handlers running now, on workers or inline (an inline run needs it at 0); inline runs need a handler and MaxInFlight 1.
    private int _handlersRunning;
    private readonly bool _inlineEligible;

    // The last handler run inline that did not complete on its read loop: a graceful close waits for it as for the workers.
    private Task? _inlineRun;
    private int _workerTarget;
    private int _publishIndex;
    private long _sessionSequence;
    private ReaderConnection[] _open = [];
    private IDisposable? _inFlightTracking;
    private ITimer? _tick;
    private DateTimeOffset? _tickDue;
    private Task _actor = Task.CompletedTask;
    private Task _lookupdPolling = Task.CompletedTask;
    private Task? _closing;

    /// <summary>Creates a Reader that runs <paramref name="handler"/> for every message.</summary>
    /// <param name="options">The settings; validated here, before any I/O.</param>
    /// <param name="handler">Handles one message. Returning finishes it (unless <see cref="NsqReaderOptions.ManualFinish"/>); throwing requeues it.</param>
    /// <exception cref="ArgumentException">An option is invalid (topic or channel name, addresses, ranges).</exception>
    public NsqReader(NsqReaderOptions options, Func<NsqMessage, CancellationToken, ValueTask> handler)
        : this(options, handler ?? throw new ArgumentNullException(nameof(handler)), pull: false)
    {
    }

    /// <summary>Creates a Reader that runs <paramref name="handler"/> for every message.</summary>
    /// <param name="options">The settings; validated here, before any I/O.</param>
    /// <param name="handler">Handles one message.</param>
    /// <exception cref="ArgumentException">An option is invalid (topic or channel name, addresses, ranges).</exception>
    public NsqReader(NsqReaderOptions options, INsqMessageHandler handler)
        : this(options, (handler ?? throw new ArgumentNullException(nameof(handler))).HandleAsync, pull: false)
    {
    }

    /// <summary>
    /// Creates a Reader that runs a generated typed dispatcher (from an <see cref="NsqHandlerAttribute">[NsqHandler]</see>
    /// method): each message is deserialized and handed to the handler; returning finishes it, throwing requeues it.
    /// </summary>
    /// <param name="options">The settings; an empty <see cref="NsqReaderOptions.Topic"/> or <see cref="NsqReaderOptions.Channel"/> takes the dispatcher's.</param>
    /// <param name="dispatcher">The generated dispatcher.</param>
    /// <param name="services">Where instance handlers are resolved from; <see langword="null"/> for static handlers or factory-made dispatchers.</param>
    /// <exception cref="ArgumentException">The options name another topic or channel than the dispatcher, or an option is invalid.</exception>
    public NsqReader(NsqReaderOptions options, INsqHandlerDispatcher dispatcher, IServiceProvider? services = null)
        : this(BindDispatcher(options, dispatcher), DispatchHandler(dispatcher, services), pull: false)
    {
    }

    /// <summary>Creates a Reader in pull mode: read with <see cref="ReadAllAsync"/>, and finish or requeue every message yourself.</summary>
    /// <param name="options">The settings; validated here, before any I/O.</param>
    /// <exception cref="ArgumentException">An option is invalid (topic or channel name, addresses, ranges).</exception>
    public NsqReader(NsqReaderOptions options)
        : this(options, null, pull: true)
    {
    }

    private NsqReader(NsqReaderOptions options, Func<NsqMessage, CancellationToken, ValueTask>? handler, bool pull)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        IsPullMode = pull;
        _options = options;
        _handler = handler;
        _inlineEligible = !pull && options.MaxInFlight == 1;
        _name = options.Name ?? $"NsqTyped.Reader.{options.Topic}.{options.Channel}";
        var loggerFactory = options.LoggerFactory ?? options.Connection.LoggerFactory;
        _logger = loggerFactory?.CreateLogger(_name) ?? (ILogger)NullLogger.Instance;
        _time = options.TimeProvider;
        _random = new Random();
        _direct = [.. options.NsqdTcpAddresses.Select(a => NsqEndpoint.Parse(a, NsqdConnectionOptions.DefaultTcpPort, nameof(options.NsqdTcpAddresses))).Distinct()];
        var lookupTimeout = TimeSpan.FromTicks(Math.Clamp(options.LookupdPollInterval.Ticks, TimeSpan.FromSeconds(5).Ticks, TimeSpan.FromSeconds(60).Ticks));
        _lookupds = [.. options.LookupdHttpAddresses.Distinct(StringComparer.OrdinalIgnoreCase).Select(a => new LookupdClient(a, options.LookupdHttpClient, lookupTimeout))];
        _reconnectBackoff = new NsqBackoffPolicy(options.MaxReconnectDelay, options.ReconnectDelay);
        _work = Channel.CreateBounded<NsqMessage>(new BoundedChannelOptions(options.MaxInFlight) { FullMode = BoundedChannelFullMode.Wait });
        _rdy = new RdyController<ReaderConnection>(
            options.MaxInFlight,
            options.LowReadyIdleTimeout,
            new NsqBackoffPolicy(options.MaxBackoffDuration),
            _time,
            _random,
            SendRdy,
            static s => s.Connection.InFlightCount,
            LastActivity);
    }

    /// <summary>
    /// The typed handler: with a service provider, every message gets its own DI scope (scoped handlers and
    /// their dependencies live for one message); without one, the dispatcher runs as is.
    /// </summary>
    private static Func<NsqMessage, CancellationToken, ValueTask> DispatchHandler(INsqHandlerDispatcher dispatcher, IServiceProvider? services)
    {
        ArgumentNullException.ThrowIfNull(dispatcher);
        if (services?.GetService(typeof(Microsoft.Extensions.DependencyInjection.IServiceScopeFactory)) is not Microsoft.Extensions.DependencyInjection.IServiceScopeFactory scopes)
        {
            return (m, ct) => dispatcher.DispatchAsync(m, services, ct);
        }

        return async (m, ct) =>
        {
            var scope = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.CreateAsyncScope(scopes);
            await using (scope.ConfigureAwait(false))
            {
                await dispatcher.DispatchAsync(m, scope.ServiceProvider, ct).ConfigureAwait(false);
            }
        };
    }

    private static NsqReaderOptions BindDispatcher(NsqReaderOptions options, INsqHandlerDispatcher dispatcher)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(dispatcher);
        if (options.Topic.Length > 0 && options.Topic != dispatcher.Topic)
        {
            throw new ArgumentException($"The options name topic '{options.Topic}' but {dispatcher.HandlerName} handles '{dispatcher.Topic}'.", nameof(options));
        }

        if (options.Channel.Length > 0 && options.Channel != dispatcher.Channel)
        {
            throw new ArgumentException($"The options name channel '{options.Channel}' but {dispatcher.HandlerName} handles '{dispatcher.Channel}'.", nameof(options));
        }

        return options with { Topic = dispatcher.Topic, Channel = dispatcher.Channel, DeadLetterTopic = options.DeadLetterTopic ?? dispatcher.DeadLetterTopic };
    }

    /// <summary>The settings this Reader was created with.</summary>
    public NsqReaderOptions Options => _options;

    /// <summary>The logger category and display name (gnsq <c>name</c>).</summary>
    public string Name => _name;

    /// <summary>gnsq <c>is_running</c>: started and not closing.</summary>
    public bool IsRunning => Volatile.Read(ref _state) == StateRunning;

    /// <summary>
    /// gnsq <c>is_starved</c>: some connection has at least 85 % of its RDY count in flight (read from its
    /// in-flight ledger), so no more messages will arrive until handlers answer; batching handlers flush on it.
    /// </summary>
    public bool IsStarved
    {
        get
        {
            foreach (var session in Volatile.Read(ref _open))
            {
                if (session.Connection.IsStarved)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Messages delivered on the subscribed connections and not yet answered or expired (their in-flight ledgers).</summary>
    internal int InFlightCount
    {
        get
        {
            var count = 0;
            foreach (var session in Volatile.Read(ref _open))
            {
                count += session.Connection.InFlightCount;
            }

            return count;
        }
    }

    /// <summary>The subscribed connections right now (gnsq <c>connections</c>), as read-only views: the Reader alone sends their RDY and SUB.</summary>
    public IReadOnlyList<NsqReaderConnection> Connections => [.. Volatile.Read(ref _open).Select(s => s.View)];

    /// <summary>Where the failure backoff stands: full flow, backing off, testing with RDY 1, or stopped (closing).</summary>
    public NsqBackoffPhase BackoffPhase => (NsqBackoffPhase)Volatile.Read(ref _backoffPhase);

    /// <summary>Consecutive failures not yet paid back by successes (0 in full flow).</summary>
    public int BackoffCounter => Volatile.Read(ref _backoffCounter);

    /// <summary>Whether handler failures back off (<see cref="NsqReaderOptions.MaxBackoffDuration"/> above zero).</summary>
    internal bool BacksOff => _options.MaxBackoffDuration > TimeSpan.Zero;

    /// <summary>Completes when the Reader has closed (gnsq <c>join()</c>).</summary>
    public Task Completion => _completion.Task;

    /// <summary>A message is about to be handled, or yielded by <see cref="ReadAllAsync"/> (gnsq <c>on_message</c>: the message).</summary>
    public event EventHandler<NsqMessageEventArgs>? MessageReceived;

    /// <summary>A response frame arrived on a connection (gnsq <c>on_response</c>: the response), e.g. <c>OK</c> or <c>CLOSE_WAIT</c>.</summary>
    public event EventHandler<NsqResponseEventArgs>? Response;

    /// <summary>
    /// An error frame arrived on a connection (gnsq <c>on_error</c>: the error), or a connection was refused for good:
    /// <c>E_AUTH_FAILED</c>/<c>E_UNAUTHORIZED</c> (<see cref="NsqErrorEventArgs.Error"/>) or a TLS refusal
    /// (<see cref="NsqErrorEventArgs.Exception"/> is the <see cref="NsqHandshakeRefusedException"/>). The Reader keeps
    /// retrying with backoff either way.
    /// </summary>
    public event EventHandler<NsqErrorEventArgs>? Error;

    /// <summary>A message was finished (gnsq <c>on_finish</c>: the message id).</summary>
    public event EventHandler<NsqFinishedEventArgs>? Finished;

    /// <summary>A message was requeued (gnsq <c>on_requeue</c>: the message id and the delay).</summary>
    public event EventHandler<NsqRequeuedEventArgs>? Requeued;

    /// <summary>A message exceeded <see cref="NsqReaderOptions.MaxTries"/> and is finished without the handler (gnsq <c>on_giving_up</c>: the message).</summary>
    public event EventHandler<NsqGivingUpEventArgs>? GivingUp;

    /// <summary>
    /// The backoff changed phase or counter (after a handler failure, when a wait ends, on each success while
    /// testing). Raised on the Reader's control loop: keep handlers short.
    /// </summary>
    public event EventHandler<NsqBackoffEventArgs>? BackoffChanged;

    /// <summary>The handler threw (gnsq <c>on_exception</c>: the message and the error); the message is requeued.</summary>
    public event EventHandler<NsqHandlerExceptionEventArgs>? HandlerException;

    /// <summary>A connection authenticated (gnsq <c>on_auth</c>: the connection and the response).</summary>
    public event EventHandler<NsqReaderAuthenticatedEventArgs>? Authenticated;

    /// <summary>The Reader closed (gnsq <c>on_close</c>); raised once, after every connection closed.</summary>
    public event EventHandler? Closed;

    /// <summary>Test hook, raised on the actor loop: a session's RDY changed (session id, count, its max_rdy_count).</summary>
    internal event Action<string, long, long>? RdySent;

    /// <summary>Test hook, raised on the actor loop before the session's RDY budget is handed to others.</summary>
    internal event Action<string>? SessionRemoved;

    /// <summary>Test hook, raised on the actor loop when the backoff phase or counter changed.</summary>
    internal event Action<RdyPhase, int>? BackoffHook;

    private bool IsPullMode { get; }

    private bool IsClosing => Volatile.Read(ref _state) >= StateClosing;

    /// <summary>
    /// Starts connecting (gnsq <c>start(block=False)</c>): to every direct nsqd address at once, and to the
    /// producers lookupd reports (a first lookup at once, then polls every <see cref="NsqReaderOptions.LookupdPollInterval"/>).
    /// Returns without waiting for connections; failures are logged and retried.
    /// </summary>
    /// <param name="cancellationToken">Not used by the start itself (nothing blocks); accepted for symmetry.</param>
    /// <exception cref="InvalidOperationException">The Reader was already started or closed.</exception>
    public ValueTask StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.CompareExchange(ref _state, StateRunning, StateCreated) != StateCreated)
        {
            throw new InvalidOperationException("An NsqReader starts once; create a new one to start again.");
        }

        ReaderLog.Starting(_logger, _name, _direct.Length, _lookupds.Length, _options.MaxInFlight);
        ReaderOptionsWarnings.Log(_logger, _name, _options);
        _tick = _time.CreateTimer(static state => ((NsqReader)state!).Post(new ReaderCommand(CommandKind.Tick)), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _inFlightTracking = NsqTelemetry.TrackInFlight(_options.Topic, _options.Channel, () => InFlightCount);
        _actor = Task.Run(RunActorAsync, CancellationToken.None);
        Post(new ReaderCommand(CommandKind.Start));
        if (_lookupds.Length > 0)
        {
            _lookupdPolling = Task.Run(PollLookupdsAsync, CancellationToken.None);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Closes gracefully (gnsq <c>close()</c>, made graceful): RDY 0 on every connection so nsqd stops
    /// sending, REQ 0 for messages received but not started, waits for running handlers (and, in manual
    /// and pull mode, for the application to answer the messages it holds), then CLS on each connection
    /// (its CLOSE_WAIT proves nsqd processed every FIN/REQ) and closes the sockets.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for outstanding messages: handlers see their token fire and
    /// the connections close at once; nsqd redelivers unanswered messages after their timeout.</param>
    public ValueTask CloseAsync(CancellationToken cancellationToken = default)
    {
        lock (_closeLock)
        {
            if (_closing is not null)
            {
                // Another caller drives the close with its own token; this one only waits.
                return new ValueTask(_closing.IsCompleted ? _closing : _closing.WaitAsync(cancellationToken));
            }

            if (Interlocked.CompareExchange(ref _state, StateClosed, StateCreated) == StateCreated)
            {
                _closing = Task.CompletedTask;
                FinishClose();
            }
            else
            {
                Volatile.Write(ref _state, StateClosing);
                _closing = CloseCoreAsync(cancellationToken);
            }

            return new ValueTask(_closing);
        }
    }

    /// <summary>Waits until the Reader has closed (gnsq <c>join()</c>).</summary>
    /// <param name="cancellationToken">Stops waiting (the Reader keeps running).</param>
    public Task JoinAsync(CancellationToken cancellationToken = default) => _completion.Task.WaitAsync(cancellationToken);

    /// <summary>Closes gracefully, waiting at most 30 s for outstanding messages (go-nsq's Stop() bound).</summary>
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(DisposeCloseTimeout);
        try
        {
            await CloseAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            // A concurrent CloseAsync drives the close; it completes on its own token.
        }
    }

    /// <summary>
    /// Pull mode: yields the messages as they arrive. Finish or requeue each one (nsqd redelivers it after its
    /// timeout otherwise); messages beyond <see cref="NsqReaderOptions.MaxTries"/> are given up on and not yielded.
    /// The sequence ends when the Reader closes.
    /// </summary>
    /// <param name="cancellationToken">Stops the enumeration (the Reader keeps running).</param>
    /// <exception cref="InvalidOperationException">The Reader was created with a handler.</exception>
    public async IAsyncEnumerable<NsqMessage> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (!IsPullMode)
        {
            throw new InvalidOperationException("This NsqReader runs a handler; ReadAllAsync is for Readers created without one.");
        }

        var reader = _work.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out var message))
            {
                if (IsClosing)
                {
                    await RequeueUnstartedAsync(message).ConfigureAwait(false);
                    continue;
                }

                if (await TryGiveUpAsync(message).ConfigureAwait(false))
                {
                    continue;
                }

                if (MessageReceived is { } received)
                {
                    Raise(received, new NsqMessageEventArgs(message));
                }

                NsqTelemetry.Consumed(_options.Topic, _options.Channel);
                yield return message;
            }
        }
    }

    /// <summary>Publishes over one of the Reader's connections (gnsq <c>publish</c>).</summary>
    /// <exception cref="NsqConnectionException">The Reader has no open connection.</exception>
    /// <inheritdoc/>
    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
        PickConnection().PublishAsync(topic, body, cancellationToken);

    /// <summary>Publishes several messages (MPUB) over one of the Reader's connections.</summary>
    /// <exception cref="NsqConnectionException">The Reader has no open connection.</exception>
    /// <inheritdoc/>
    public ValueTask PublishManyAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, CancellationToken cancellationToken = default) =>
        PickConnection().PublishManyAsync(topic, bodies, cancellationToken);

    /// <summary>Publishes a deferred message (DPUB) over one of the Reader's connections.</summary>
    /// <exception cref="NsqConnectionException">The Reader has no open connection.</exception>
    /// <inheritdoc/>
    public ValueTask PublishDeferredAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, CancellationToken cancellationToken = default) =>
        PickConnection().PublishDeferredAsync(topic, body, delay, cancellationToken);

    private NsqdConnection PickConnection()
    {
        var open = Volatile.Read(ref _open);
        if (open.Length == 0)
        {
            throw new NsqConnectionException($"Reader {_name} has no open nsqd connection to publish on.");
        }

        var index = (uint)Interlocked.Increment(ref _publishIndex) % (uint)open.Length;
        return open[index].Connection;
    }

    private async Task CloseCoreAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        Post(new ReaderCommand(CommandKind.Close));
        var all = await _closeStarted.Task.ConfigureAwait(false);
        ReaderLog.Closing(_logger, _name, InFlight(all));

        // Received but not started: back to nsqd at once rather than after msg_timeout.
        while (_work.Reader.TryRead(out var message))
        {
            await RequeueUnstartedAsync(message).ConfigureAwait(false);
        }

        // Outstanding = what the connections' ledgers hold: answered, expired (nsqd took it back) or closed.
        var graceful = true;
        try
        {
            await Task.WhenAll(all.Select(s => s.Connection.WaitInFlightEmptyAsync(cancellationToken))).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            graceful = false;
            ReaderLog.CloseCancelled(_logger, _name, InFlight(all));
            await _handlerCancellation.CancelAsync().ConfigureAwait(false);
        }

        var shutdown = new TaskCompletionSource<ReaderConnection[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(new ReaderCommand(CommandKind.Shutdown, Payload: shutdown));
        var sessions = await shutdown.Task.ConfigureAwait(false);
        await Task.WhenAll(sessions.Select(s => CloseSessionAsync(s, graceful, cancellationToken))).ConfigureAwait(false);
        await _actor.ConfigureAwait(false);
        await _lookupdPolling.ConfigureAwait(false);
        if (graceful)
        {
            Task[] workers;
            lock (_workers)
            {
                workers = [.. _workers];
            }

            await Task.WhenAll(workers).ConfigureAwait(false);
            if (Volatile.Read(ref _inlineRun) is { } inline)
            {
                await inline.ConfigureAwait(false);
            }
        }

        FinishClose();
    }

    private void FinishClose()
    {
        Volatile.Write(ref _state, StateClosed);
        _inFlightTracking?.Dispose();
        _tick?.Dispose();
        foreach (var lookupd in _lookupds)
        {
            lookupd.Dispose();
        }

        _completion.TrySetResult();
        ReaderLog.Closed(_logger, _name);
        if (Closed is { } closed)
        {
            try
            {
                closed(this, EventArgs.Empty);
            }
            catch (Exception ex)
            {
                ReaderLog.EventHandlerFailed(_logger, _name, ex);
            }
        }
    }

    private async Task CloseSessionAsync(ReaderConnection session, bool graceful, CancellationToken cancellationToken)
    {
        if (graceful && session.Subscribed && !session.CloseSent && session.Connection.IsConnected)
        {
            try
            {
                await SettleAsync(session.Connection, cancellationToken).ConfigureAwait(false);
                session.CloseSent = true;
                await session.Connection.SendCloseAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NsqException or OperationCanceledException)
            {
                // The socket closes next anyway; CLS only proves that nsqd processed what came before it.
            }
        }

        await session.Connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Messages the socket delivered before RDY 0 took effect are in the connection's ledger and are
    /// requeued by the read loop as they come through; give them a moment (bounded: a response that was
    /// never sent, e.g. cancelled, keeps its entry until msg_timeout).
    /// </summary>
    private static async Task SettleAsync(NsqdConnection connection, CancellationToken cancellationToken)
    {
        using var settle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        settle.CancelAfter(SettleLimit);
        try
        {
            await connection.WaitInFlightEmptyAsync(settle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Waited long enough: close anyway; nsqd redelivers what is left after its timeout.
        }
    }

    private static int InFlight(ReaderConnection[] sessions) => sessions.Sum(static s => s.Connection.InFlightCount);

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        if (handler is null)
        {
            return;
        }

        try
        {
            handler(this, args);
        }
        catch (Exception ex)
        {
            ReaderLog.EventHandlerFailed(_logger, _name, ex);
        }
    }

    private void Post(in ReaderCommand command) => _commands.Writer.TryWrite(command);
}
