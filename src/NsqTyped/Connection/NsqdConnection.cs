using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqTyped.Internal;
using NsqTyped.Protocol;

namespace NsqTyped;

/// <summary>
/// One TCP connection to one nsqd (gnsq's <c>Nsqd</c>, TCP part): the handshake (magic, IDENTIFY,
/// TLS/Snappy/Deflate upgrades in the server's order, AUTH), every command, pipelined publishing and
/// the frames nsqd sends, raised as events.
/// </summary>
/// <remarks>
/// <para>
/// One read loop parses frames in place and answers <c>_heartbeat_</c> with NOP; one write loop sends
/// everything queued since its last write in one flush. Events are raised by a third task, in arrival
/// order, never on the read loop; a slow handler delays later events but never the socket.
/// </para>
/// <para>
/// Publish acknowledgements arrive in order, so pending publishes wait in a FIFO. Every publish
/// completes: on <c>OK</c>, with an <see cref="NsqServerException"/> for an error frame, with an
/// <see cref="NsqConnectionException"/> when the connection dies first, with an
/// <see cref="NsqTimeoutException"/> after <see cref="NsqdConnectionOptions.ReadTimeout"/>, or with an
/// <see cref="OperationCanceledException"/> when its token fires. A connection is not reused after it
/// closed: the owner (producer, reader) creates a new one.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// await using var connection = await NsqdConnection.ConnectAsync("127.0.0.1:4150");
/// await connection.PublishAsync("orders", "hello"u8.ToArray());
/// </code>
/// </example>
public sealed partial class NsqdConnection : INsqPublisher, INsqMessageResponder, IAsyncDisposable
{
    private const int StateCreated = 0;
    private const int StateConnecting = 1;
    private const int StateOpen = 2;
    private const int StateClosed = 3;

    [ThreadStatic]
    private static NsqdConnection? t_dispatching;

    private readonly NsqEndpoint _endpoint;
    private readonly ILogger _logger;
    private readonly Lock _writeLock = new();
    private readonly ConcurrentQueue<PendingOperation> _pending = new();
    private readonly Channel<EventArgs> _events = Channel.CreateUnbounded<EventArgs>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _lifetime = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _writeSignal = new(0);
    private readonly int _maxFrameSize;

    private ArrayBufferWriter<byte> _buffer = new(16 * 1024);
    private ArrayBufferWriter<byte> _spare = new(16 * 1024);
    private int _state;
    private int _signaled;
    private readonly InFlightLedger _ledger = new();
    private long _lastReady;
    private long _rdyCeiling;
    private long _lastReceived;
    private Socket? _socket;
    private Stream? _transport;
    private Stream? _readStream;
    private Stream? _writeStream;
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;
    private Task _eventLoop = Task.CompletedTask;
    private Timer? _watchdog;
    private Task? _disposeTask;
    private volatile Exception? _closeReason;

    /// <summary>Creates a connection to <paramref name="address"/> without connecting; call <see cref="ConnectAsync(CancellationToken)"/>.</summary>
    /// <param name="address">nsqd's TCP address, <c>host:port</c> (port 4150 when omitted).</param>
    /// <param name="options">Options; <see cref="NsqdConnectionOptions.Default"/> when <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">The address is empty or malformed, or an option is out of range.</exception>
    public NsqdConnection(string address, NsqdConnectionOptions? options = null)
    {
        _endpoint = NsqEndpoint.Parse(address, NsqdConnectionOptions.DefaultTcpPort);
        Options = options ?? NsqdConnectionOptions.Default;
        Options.Validate();
        Address = _endpoint.ToString();
        _logger = Options.LoggerFactory?.CreateLogger<NsqdConnection>() ?? (ILogger)NullLogger.Instance;
        _maxFrameSize = Options.MaxReadMessageSize + NsqMessageFrame.HeaderLength + 4;
        _timeouts = new TimeoutBuckets(_writeLock);
    }

    /// <summary>Creates a connection and connects it (magic, IDENTIFY, upgrades, AUTH).</summary>
    /// <param name="address">nsqd's TCP address, <c>host:port</c>.</param>
    /// <param name="options">Options; <see cref="NsqdConnectionOptions.Default"/> when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>The open connection.</returns>
    /// <exception cref="ArgumentException">The address is empty or malformed, or an option is out of range.</exception>
    /// <exception cref="NsqConnectionException">The server is unreachable, the TLS handshake failed, or AUTH is required without a secret.</exception>
    /// <exception cref="NsqServerException">nsqd rejected IDENTIFY or AUTH.</exception>
    /// <exception cref="NsqTimeoutException">The handshake took longer than <see cref="NsqdConnectionOptions.ConnectTimeout"/>.</exception>
    public static async ValueTask<NsqdConnection> ConnectAsync(string address, NsqdConnectionOptions? options = null, CancellationToken cancellationToken = default)
    {
        var connection = new NsqdConnection(address, options);
        try
        {
            await connection.ConnectAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>nsqd's address as <c>host:port</c>.</summary>
    public string Address { get; }

    /// <summary>The options this connection was created with.</summary>
    public NsqdConnectionOptions Options { get; }

    /// <summary>The settings nsqd negotiated in IDENTIFY (max RDY, message timeout, granted upgrades); <see langword="null"/> before connecting.</summary>
    public NsqIdentifyResponse? Settings { get; private set; }

    /// <summary>The identity AUTH returned; <see langword="null"/> when the server required no AUTH.</summary>
    public NsqAuthResponse? Identity { get; private set; }

    /// <summary>Whether the handshake completed and the connection has not closed.</summary>
    public bool IsConnected => Volatile.Read(ref _state) == StateOpen;

    /// <summary>
    /// Messages delivered on this connection and not yet finished or requeued, read from the connection's
    /// in-flight ledger. A message unanswered for the negotiated <c>msg_timeout</c> (since delivery or its
    /// last TOUCH) no longer counts: nsqd has taken it back by then.
    /// </summary>
    public int InFlightCount => _ledger.Count;

    /// <summary>The last RDY count sent.</summary>
    public long LastReadyCount => Volatile.Read(ref _lastReady);

    /// <summary>
    /// gnsq <c>is_starved</c>: in-flight messages reached 85 % of the last RDY count, so nsqd will soon stop
    /// sending until some are finished.
    /// </summary>
    public bool IsStarved
    {
        get
        {
            var ready = LastReadyCount;
            return ready > 0 && InFlightCount >= ready * 0.85;
        }
    }

    /// <summary>Why the connection closed: <see langword="null"/> while open or after a deliberate dispose.</summary>
    public Exception? CloseReason => _closeReason;

    /// <summary>Completes (never faults) when the connection has closed, for whatever reason.</summary>
    public Task Completion => _completion.Task;

    /// <summary>A message arrived (gnsq <c>on_message</c>). Respond with <see cref="NsqMessage.FinishAsync"/> or <see cref="NsqMessage.RequeueAsync"/>.</summary>
    public event EventHandler<NsqMessageEventArgs>? MessageReceived;

    /// <summary>A response other than <c>_heartbeat_</c> arrived (gnsq <c>on_response</c>).</summary>
    public event EventHandler<NsqResponseEventArgs>? ResponseReceived;

    /// <summary>An error frame arrived (gnsq <c>on_error</c>).</summary>
    public event EventHandler<NsqErrorEventArgs>? ErrorReceived;

    /// <summary>FIN was sent for a message (gnsq <c>on_finish</c>).</summary>
    public event EventHandler<NsqFinishedEventArgs>? Finished;

    /// <summary>REQ was sent for a message (gnsq <c>on_requeue</c>).</summary>
    public event EventHandler<NsqRequeuedEventArgs>? Requeued;

    /// <summary>TOUCH was sent for a message (gnsq <c>on_touch</c>).</summary>
    public event EventHandler<NsqTouchedEventArgs>? Touched;

    /// <summary>AUTH succeeded during the handshake (gnsq <c>on_auth</c>).</summary>
    public event EventHandler<NsqAuthenticatedEventArgs>? Authenticated;

    /// <summary>The connection closed (gnsq <c>on_close</c>); the last event, raised exactly once.</summary>
    public event EventHandler<NsqConnectionClosedEventArgs>? Closed;

    /// <summary>
    /// Connects: TCP, magic, IDENTIFY, the upgrades nsqd granted (TLS, then Snappy or Deflate), AUTH when
    /// required. Then starts the read, write and event loops.
    /// </summary>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <exception cref="InvalidOperationException">The connection was already connected, or closed.</exception>
    /// <exception cref="NsqConnectionException">The server is unreachable, the TLS handshake failed, or AUTH is required without a secret.</exception>
    /// <exception cref="NsqServerException">nsqd rejected IDENTIFY or AUTH.</exception>
    /// <exception cref="NsqTimeoutException">The handshake took longer than <see cref="NsqdConnectionOptions.ConnectTimeout"/>.</exception>
    public async ValueTask ConnectAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, StateConnecting, StateCreated) != StateCreated)
        {
            throw new InvalidOperationException("An NsqdConnection connects once; create a new one to reconnect.");
        }

        Log.Connecting(_logger, Address);
        _eventLoop = Task.Run(DispatchEventsAsync, CancellationToken.None);
        try
        {
            await HandshakeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Close(ex);
            throw;
        }

        lock (_writeLock)
        {
            if (_state != StateConnecting)
            {
                throw new NsqConnectionException($"The connection to nsqd {Address} was closed while connecting.", _closeReason);
            }

            // Started under the lock that Close takes: a dispose that closes the connection now sees these
            // tasks and awaits them before disposing the lifetime token source they use.
            _state = StateOpen;
            _lastReceived = Environment.TickCount64;
            _readLoop = ReadLoopAsync();
            _writeLoop = Task.Run(WriteLoopAsync, CancellationToken.None);
        }
        if (Options.HeartbeatInterval != Timeout.InfiniteTimeSpan)
        {
            var period = TimeSpan.FromMilliseconds(Math.Max(50, Options.HeartbeatInterval.TotalMilliseconds / 4));
            _watchdog = new Timer(static state => ((NsqdConnection)state!).CheckLiveness(), this, period, period);
            if (Volatile.Read(ref _state) != StateOpen)
            {
                // Closed while the timer was being created: Close may not have seen it.
                _watchdog.Dispose();
            }
        }

        var settings = Settings!;
        Log.Connected(_logger, Address, settings.Version, settings.TlsV1, settings.Snappy, settings.Deflate);
    }

    /// <summary>
    /// Closes the connection (without CLS; see <see cref="SendCloseAsync"/>): first writes out what is already
    /// queued (FIN, REQ, TOUCH, RDY, publishes) within <see cref="NsqdConnectionOptions.WriteTimeout"/>, then
    /// closes the socket, fails pending calls and waits for the loops to stop. Idempotent.
    /// </summary>
    public ValueTask DisposeAsync() => DisposeOnce.RunAsync(ref _disposeTask, DisposeCoreAsync);

    private async Task DisposeCoreAsync()
    {
        // Read before the first await: a handler that disposes its own connection must not wait for itself.
        var fromEventHandler = t_dispatching == this;
        await FlushBeforeCloseAsync().ConfigureAwait(false);
        Close(null);
        await _readLoop.ConfigureAwait(false);
        await _writeLoop.ConfigureAwait(false);

        if (!fromEventHandler)
        {
            await _eventLoop.ConfigureAwait(false);
        }

        _watchdog?.Dispose();
        _parkWatch?.Dispose();
        await WaitForInlineWriterAsync().ConfigureAwait(false);
        DisposeStreams();
        _lifetime.Dispose();
    }

    /// <summary>Closes the socket and fails everything pending. The first reason wins; later calls do nothing.</summary>
    private void Close(Exception? reason)
    {
        lock (_writeLock)
        {
            if (_state == StateClosed)
            {
                return;
            }

            _state = StateClosed;
            _closeReason = reason;
        }

        _watchdog?.Change(Timeout.Infinite, Timeout.Infinite);
        try
        {
            _lifetime.Cancel();
        }
        catch (AggregateException)
        {
            // Cancellation callbacks only complete operations; a failure there must not stop the close.
        }

        // A read parked in front of caller code is issued now: it fails at once and the read loop ends.
        ReleaseParkedRead();

        try
        {
            _socket?.Dispose();
        }
        catch (ObjectDisposedException)
        {
        }

        var failure = reason as NsqConnectionException
            ?? new NsqConnectionException(
                reason is null
                    ? $"The connection to nsqd {Address} was closed before the response arrived."
                    : $"The connection to nsqd {Address} failed before the response arrived: {reason.Message}",
                reason);
        FailEverythingPending(failure);

        if (reason is null)
        {
            Log.Closed(_logger, Address);
        }
        else
        {
            Log.Failed(_logger, Address, reason);
        }

        _ledger.Clear();
        _events.Writer.TryWrite(new NsqConnectionClosedEventArgs(reason));
        _events.Writer.TryComplete();
        _completion.TrySetResult();
    }

    private void DisposeStreams()
    {
        foreach (var stream in new[] { _writeStream, _readStream, _transport })
        {
            try
            {
                stream?.Dispose();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or SocketException)
            {
                // Compressing streams flush on dispose; the socket is gone, nothing is left to flush to.
            }
        }
    }

    private void CheckLiveness()
    {
        if (Volatile.Read(ref _state) != StateOpen)
        {
            return;
        }

        var silent = Environment.TickCount64 - Volatile.Read(ref _lastReceived);
        if (silent > 2 * (long)Options.HeartbeatInterval.TotalMilliseconds)
        {
            Log.WatchdogExpired(_logger, Address, silent);
            Close(new NsqConnectionException(
                $"No data from nsqd {Address} for {silent} ms, more than two heartbeat intervals ({Options.HeartbeatInterval.TotalMilliseconds:0} ms each): the connection is considered dead and was closed."));
        }
    }

    private void RaiseEvent(EventArgs args) => _events.Writer.TryWrite(args);

    private async Task DispatchEventsAsync()
    {
        var reader = _events.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var args))
            {
                t_dispatching = this;
                try
                {
                    switch (args)
                    {
                        case NsqMessageEventArgs m:
                            MessageReceived?.Invoke(this, m);
                            break;
                        case NsqResponseEventArgs r:
                            ResponseReceived?.Invoke(this, r);
                            break;
                        case NsqErrorEventArgs e:
                            ErrorReceived?.Invoke(this, e);
                            break;
                        case NsqFinishedEventArgs f:
                            Finished?.Invoke(this, f);
                            break;
                        case NsqRequeuedEventArgs q:
                            Requeued?.Invoke(this, q);
                            break;
                        case NsqTouchedEventArgs t:
                            Touched?.Invoke(this, t);
                            break;
                        case NsqAuthenticatedEventArgs a:
                            Authenticated?.Invoke(this, a);
                            break;
                        case NsqConnectionClosedEventArgs c:
                            Closed?.Invoke(this, c);
                            break;
                    }
                }
                catch (Exception ex)
                {
                    Log.EventHandlerFailed(_logger, Address, ex);
                }
                finally
                {
                    t_dispatching = null;
                }
            }
        }
    }
}
