using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NsqTyped.Testing.Nsqd.Broker;

namespace NsqTyped.Testing.Nsqd.Tcp;

/// <summary>
/// One TCP connection speaking protocol V2 (nsqd's <c>protocol_v2.go</c> IOLoop and messagePump):
/// a read loop parsing commands incrementally from a pipe over the top of the stream stack
/// (Socket → SslStream → Snappy | Deflate), an output buffer drained by one writer loop, and a
/// heartbeat loop that also closes clients silent for two heartbeat intervals.
/// </summary>
internal sealed partial class NsqdTcpSession : NsqdClient
{
    private const int MaxLineLength = 16 * 1024;
    private static readonly byte[] s_heartbeat = "_heartbeat_"u8.ToArray();

    private readonly NsqdBroker _broker;
    private readonly EmbeddedNsqdOptions _options;
    private readonly Socket _socket;
    private readonly NetworkStream _network;
    private readonly NsqdOutput _output;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closed = new();
    private readonly byte[] _line = new byte[MaxLineLength];
    private Stream _readStream;
    private PipeReader _reader;
    private CancellationTokenSource _heartbeatReset;
    private long _lastReadTimestamp;
    private long _heartbeatIntervalTicks;
    private SslStream? _ssl;
    private int _closing;

    public NsqdTcpSession(NsqdBroker broker, Socket socket, ILogger logger)
        : base(socket.RemoteEndPoint?.ToString() ?? "", broker.Time.GetUtcNow(), broker.Options.MsgTimeout)
    {
        _broker = broker;
        _options = broker.Options;
        _socket = socket;
        _logger = logger;
        _network = new NetworkStream(socket, ownsSocket: false);
        _readStream = _network;
        _reader = CreateReader(_network);
        _output = new NsqdOutput(_network, broker.Time, _options.OutputBufferSize, _options.OutputBufferTimeout);
        _heartbeatReset = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token);
        _heartbeatIntervalTicks = (_options.ClientTimeout / 2).Ticks;
        _outputBufferSize = _options.OutputBufferSize;
        _outputBufferTimeout = _options.OutputBufferTimeout;

        // nsqd names a client by its remote host until IDENTIFY says otherwise.
        var host = RemoteAddress;
        var colon = host.LastIndexOf(':');
        if (colon >= 0)
        {
            host = host[..colon];
        }

        ClientId = host;
        Hostname = host;
    }

    private TimeSpan HeartbeatInterval => TimeSpan.FromTicks(Volatile.Read(ref _heartbeatIntervalTicks));

    private static PipeReader CreateReader(Stream stream) =>
        PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 4096, leaveOpen: true));

    /// <summary>Serves the connection until it ends; never throws.</summary>
    public async Task RunAsync()
    {
        var writer = _output.RunAsync();
        var heartbeat = Task.CompletedTask;
        try
        {
            if (await ReadMagicAsync().ConfigureAwait(false))
            {
                // As in nsqd, the client exists (stats, heartbeats) once it spoke protocol V2.
                _broker.AddClient(this);
                Touch();
                heartbeat = HeartbeatLoopAsync();
                await ReadLoopAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            // The connection's top level: whatever ended it (the client went away, a decompression
            // error, a bug), it ends this one connection and never the server.
            LogConnectionError(_logger, RemoteAddress, ex.Message);
        }
        finally
        {
            await ShutdownAsync(writer, heartbeat).ConfigureAwait(false);
        }
    }

    private async Task ShutdownAsync(Task writer, Task heartbeat)
    {
        Interlocked.Exchange(ref _closing, 1);
        Channel?.RemoveClient(this);
        _broker.RemoveClient(this);
        _output.Complete();

        // Give the writer a moment to deliver the last error frame, but never hang on a client that
        // does not read.
        await Task.WhenAny(writer, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        await _closed.CancelAsync().ConfigureAwait(false);

        // A plain close, as nsqd's conn.Close(): the kernel sends FIN, or RST when the client's input
        // is still unread (e.g. the body of a PUB refused as too big), so clients see the same reset.
        _socket.Dispose();
        await heartbeat.ConfigureAwait(false);
        await writer.ConfigureAwait(false);
        await _reader.CompleteAsync().ConfigureAwait(false);

        // Compression layers hold native zlib/snappy state; the socket below them is already closed.
        foreach (var layer in new[] { _readStream, _output.Stream })
        {
            if (!ReferenceEquals(layer, _network) && !ReferenceEquals(layer, _ssl))
            {
                try
                {
                    await layer.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
                {
                }
            }
        }

        _ssl?.Dispose();
        await _network.DisposeAsync().ConfigureAwait(false);
        _heartbeatReset.Dispose();
        _closed.Dispose();
    }

    private void Touch() => Volatile.Write(ref _lastReadTimestamp, _broker.Time.GetTimestamp());

    /// <summary>nsqd reads exactly four bytes; anything but <c>"  V2"</c> gets E_BAD_PROTOCOL and a close.</summary>
    private async Task<bool> ReadMagicAsync()
    {
        while (true)
        {
            var result = await _reader.ReadAsync(_closed.Token).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= 4)
            {
                Span<byte> magic = stackalloc byte[4];
                buffer.Slice(0, 4).CopyTo(magic);
                _reader.AdvanceTo(buffer.GetPosition(4));
                if (magic.SequenceEqual("  V2"u8))
                {
                    Touch();
                    return true;
                }

                _output.WriteFrame(NsqdFrameWriter.FrameTypeError, "E_BAD_PROTOCOL"u8);
                return false;
            }

            if (result.IsCompleted)
            {
                return false;
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private async Task ReadLoopAsync()
    {
        while (true)
        {
            var result = await _reader.ReadAsync(_closed.Token).ConfigureAwait(false);
            var buffer = result.Buffer;
            Touch();
            var upgraded = false;
            while (true)
            {
                NsqdCommand command = default;
                ParseStatus status;
                try
                {
                    status = TryParse(ref buffer, ref command);
                    if (status == ParseStatus.RefreshAuth)
                    {
                        await RefreshAuthAsync().ConfigureAwait(false);
                        continue;
                    }

                    if (status == ParseStatus.NeedMore)
                    {
                        break;
                    }

                    await ExecuteAsync(command).ConfigureAwait(false);
                }
                catch (NsqdClientException error)
                {
                    LogClientError(_logger, RemoteAddress, error.Message);
                    _output.WriteFrame(NsqdFrameWriter.FrameTypeError, System.Text.Encoding.Latin1.GetBytes(error.Message));
                    if (error.IsFatal)
                    {
                        return;
                    }

                    continue;
                }
                catch (NsqProtocolException)
                {
                    // nsqd's ReadSlice fails on a line longer than its buffer: the connection ends without an error frame.
                    return;
                }

                Touch();
                if (_pendingUpgrade is { } upgrade)
                {
                    _pendingUpgrade = null;
                    var leftover = buffer.IsEmpty ? [] : buffer.ToArray();
                    _reader.AdvanceTo(buffer.End);
                    await _reader.CompleteAsync().ConfigureAwait(false);
                    if (!await UpgradeAsync(upgrade, leftover).ConfigureAwait(false))
                    {
                        return;
                    }

                    upgraded = true;
                    break;
                }
            }

            if (upgraded)
            {
                continue;
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }

    private async Task HeartbeatLoopAsync()
    {
        var time = _broker.Time;
        var lastBeat = time.GetTimestamp();
        while (!_closed.IsCancellationRequested)
        {
            var reset = Volatile.Read(ref _heartbeatReset);
            var interval = HeartbeatInterval;
            try
            {
                if (interval <= TimeSpan.Zero)
                {
                    await Task.Delay(Timeout.InfiniteTimeSpan, time, reset.Token).ConfigureAwait(false);
                    continue;
                }

                var sinceBeat = time.GetElapsedTime(lastBeat);
                var sinceRead = time.GetElapsedTime(Volatile.Read(ref _lastReadTimestamp));
                var untilBeat = interval - sinceBeat;
                var untilIdle = (interval * 2) - sinceRead;
                if (untilIdle <= TimeSpan.Zero)
                {
                    // nsqd's read deadline (2 × heartbeat interval) expired: close without an error frame.
                    LogIdleTimeout(_logger, RemoteAddress);
                    Abort();
                    return;
                }

                if (untilBeat <= TimeSpan.Zero)
                {
                    _output.WriteFrame(NsqdFrameWriter.FrameTypeResponse, s_heartbeat);
                    lastBeat = time.GetTimestamp();
                    continue;
                }

                var wait = untilBeat < untilIdle ? untilBeat : untilIdle;
                await Task.Delay(wait, time, reset.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // IDENTIFY changed the interval: nsqd restarts its heartbeat ticker from now.
                lastBeat = time.GetTimestamp();
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    private void SetHeartbeatInterval(TimeSpan interval)
    {
        Volatile.Write(ref _heartbeatIntervalTicks, interval.Ticks);
        var old = Interlocked.Exchange(ref _heartbeatReset, CancellationTokenSource.CreateLinkedTokenSource(_closed.Token));
        // Not disposed: the heartbeat loop may still be reading its token.
        old.Cancel();
    }

    /// <summary>Ends the connection from outside the read loop (timeouts, deleted channel, shutdown).</summary>
    private void Abort()
    {
        try
        {
            _closed.Cancel();
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (ObjectDisposedException)
        {
        }
        catch (SocketException)
        {
        }
    }

    internal override void SendMessage(NsqdMessage message) => _output.WriteMessage(message);

    internal override void MessagesSent(bool stillReady) => _output.MessagesSent(stillReady);

    internal override void CloseConnection() => Abort();

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "nsqd client {Remote}: {Error}")]
    private static partial void LogClientError(ILogger logger, string remote, string error);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Debug, Message = "nsqd client {Remote} closed: {Reason}")]
    private static partial void LogConnectionError(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Debug, Message = "nsqd client {Remote} sent nothing for two heartbeat intervals; closing")]
    private static partial void LogIdleTimeout(ILogger logger, string remote);
}
