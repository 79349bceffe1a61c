using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using NsqTyped.Protocol;
using NsqTyped.Testing.Nsqd.Http;

namespace NsqTyped.Testing.Lookupd;

/// <summary>
/// nsqlookupd's TCP side (<c>tcp.go</c>, <c>lookup_protocol_v1.go</c>): a client sends the magic
/// <c>"  V1"</c>, then text lines <c>IDENTIFY</c> (followed by <c>[int32 size][JSON]</c>),
/// <c>REGISTER topic [channel]</c>, <c>UNREGISTER topic [channel]</c> and <c>PING</c>. Every answer is
/// <c>[int32 size][data]</c> without a frame type; every error is fatal (sent, then the connection closes).
/// When a connection ends, its peer is removed from every registration.
/// </summary>
internal sealed class LookupdTcpServer : IAsyncDisposable
{
    private const int MaxLineLength = 1024 * 1024;
    private const int MaxIdentifyBodySize = 5 * 1024 * 1024;
    private static readonly byte[] MagicV1 = "  V1"u8.ToArray();

    private readonly EmbeddedNsqlookupd _lookupd;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Socket, Task> _clients = new();
    private Task _acceptLoop = Task.CompletedTask;

    public LookupdTcpServer(EmbeddedNsqlookupd lookupd, IPEndPoint bindTo, ILogger logger)
    {
        _lookupd = lookupd;
        _logger = logger;
        _listener = new Socket(bindTo.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _listener.Bind(bindTo);
            _listener.Listen(512);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }

        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
    }

    public IPEndPoint EndPoint { get; }

    public void Start() => _acceptLoop = AcceptLoopAsync();

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        foreach (var socket in _clients.Keys)
        {
            socket.Dispose();
        }

        await Task.WhenAll(_clients.Values).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }

                // E.g. out of file descriptors: back off instead of spinning on the failing accept.
                await Task.Delay(50).ConfigureAwait(false);
                continue;
            }

            socket.NoDelay = true;
            var client = Task.Run(() => RunClientAsync(socket));
            _clients[socket] = client;
            _ = client.ContinueWith(
                static (_, state) =>
                {
                    var (clients, s) = ((ConcurrentDictionary<Socket, Task>, Socket))state!;
                    clients.TryRemove(s, out Task? _);
                },
                (_clients, socket),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    private async Task RunClientAsync(Socket socket)
    {
        var remote = HostPort.FormatRemote(socket);
        LookupdLog.ClientConnected(_logger, remote);
        var connection = new ClientConnection(remote);
        var stream = new NetworkStream(socket, ownsSocket: true);
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        try
        {
            await ServeAsync(connection, reader, stream, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer went away or the server is stopping; registrations are cleaned up below either way.
        }
        catch (NsqProtocolException ex)
        {
            LookupdLog.ClientError(_logger, remote, ex.Message);
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
            if (connection.Peer is { } peer)
            {
                foreach (var registration in _lookupd.Db.LookupRegistrations(peer.Id))
                {
                    if (_lookupd.Db.RemoveProducer(registration, peer.Id).Removed)
                    {
                        LookupdLog.Registration(_logger, remote, "UNREGISTER", registration.Category, registration.Key, registration.SubKey);
                    }
                }
            }

            LookupdLog.ClientClosed(_logger, remote);
        }
    }

    private async Task ServeAsync(ClientConnection connection, PipeReader reader, NetworkStream stream, CancellationToken cancellationToken)
    {
        var magic = await ReadMagicAsync(reader, cancellationToken).ConfigureAwait(false);
        if (magic is null)
        {
            return;
        }

        if (!magic.AsSpan().SequenceEqual(MagicV1))
        {
            LookupdLog.BadMagic(_logger, connection.Remote, Encoding.Latin1.GetString(magic));
            await SendAsync(stream, "E_BAD_PROTOCOL"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            return;
        }

        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var closeAfter = false;
            while (!closeAfter && TryExecute(connection, ref buffer, result.IsCompleted, out var response, out closeAfter))
            {
                await SendAsync(stream, response, cancellationToken).ConfigureAwait(false);
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (closeAfter || result.IsCompleted)
            {
                return;
            }
        }
    }

    private static async Task<byte[]?> ReadMagicAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (result.Buffer.Length >= 4)
            {
                var magic = result.Buffer.Slice(0, 4).ToArray();
                reader.AdvanceTo(result.Buffer.GetPosition(4));
                return magic;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            if (result.IsCompleted)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Executes the next complete command in <paramref name="buffer"/>. Returns false (buffer untouched)
    /// when it has not fully arrived yet, unless the stream ended, in which case an IDENTIFY missing its
    /// body fails the way nsqlookupd's <c>binary.Read</c>/<c>io.ReadFull</c> would.
    /// </summary>
    private bool TryExecute(ClientConnection connection, ref ReadOnlySequence<byte> buffer, bool streamEnded, out byte[] response, out bool close)
    {
        response = [];
        close = false;
        var rest = buffer;
        if (!NsqCommandReader.TryReadLine(ref rest, out var lineBytes, MaxLineLength))
        {
            return false;
        }

        var parameters = Encoding.UTF8.GetString(lineBytes).Trim().Split(' ');
        LookupdError? error;
        switch (parameters[0])
        {
            case "PING":
                error = null;
                response = Ping(connection);
                break;
            case "IDENTIFY":
                if (!TryReadIdentifyBody(ref rest, streamEnded, out var body, out error))
                {
                    return false;
                }

                if (error is null)
                {
                    error = Identify(connection, body, out response);
                }

                break;
            case "REGISTER":
                error = Register(connection, parameters.AsSpan(1), out response);
                break;
            case "UNREGISTER":
                error = Unregister(connection, parameters.AsSpan(1), out response);
                break;
            default:
                error = new LookupdError("E_INVALID", "invalid command " + parameters[0]);
                break;
        }

        buffer = rest;
        if (error is { } e)
        {
            LookupdLog.ClientError(_logger, connection.Remote, e.ToString());
            response = Encoding.UTF8.GetBytes(e.ToString());
            close = true;
        }

        return true;
    }

    private static bool TryReadIdentifyBody(ref ReadOnlySequence<byte> rest, bool streamEnded, out ReadOnlySequence<byte> body, out LookupdError? error)
    {
        body = default;
        error = null;
        var afterSize = rest;
        if (!NsqCommandReader.TryReadInt32(ref afterSize, out var size))
        {
            if (!streamEnded)
            {
                return false;
            }

            error = new LookupdError("E_BAD_BODY", "IDENTIFY failed to read body size");
            return true;
        }

        if (size < 0 || size > MaxIdentifyBodySize)
        {
            rest = afterSize;
            error = new LookupdError("E_BAD_BODY", "IDENTIFY failed to read body");
            return true;
        }

        if (!NsqCommandReader.TryReadBytes(ref afterSize, size, out body))
        {
            if (!streamEnded)
            {
                return false;
            }

            rest = afterSize;
            error = new LookupdError("E_BAD_BODY", "IDENTIFY failed to read body");
            return true;
        }

        rest = afterSize;
        return true;
    }

    private byte[] Ping(ClientConnection connection)
    {
        // A PING may come before IDENTIFY; it only refreshes a peer that exists.
        connection.Peer?.LastUpdateUnixNanoseconds = LookupdRegistrationDb.ToUnixNanoseconds(_lookupd.Options.TimeProvider.GetUtcNow());
        return "OK"u8.ToArray();
    }

    private LookupdError? Identify(ClientConnection connection, ReadOnlySequence<byte> body, out byte[] response)
    {
        response = [];
        if (connection.Peer is not null)
        {
            return new LookupdError("E_INVALID", "cannot IDENTIFY again");
        }

        var peer = new LookupdPeerInfo(connection.Remote);
        if (!TryDecodePeerInfo(body, peer))
        {
            return new LookupdError("E_BAD_BODY", "IDENTIFY failed to decode JSON body");
        }

        peer.RemoteAddress = connection.Remote;
        if (peer.BroadcastAddress.Length == 0 || peer.TcpPort == 0 || peer.HttpPort == 0 || peer.Version.Length == 0)
        {
            return new LookupdError("E_BAD_BODY", "IDENTIFY missing fields");
        }

        peer.LastUpdateUnixNanoseconds = LookupdRegistrationDb.ToUnixNanoseconds(_lookupd.Options.TimeProvider.GetUtcNow());
        LookupdLog.Identified(_logger, connection.Remote, peer.BroadcastAddress, peer.TcpPort, peer.HttpPort, peer.Version);
        connection.Peer = peer;
        if (_lookupd.Db.AddProducer(LookupdRegistration.Client, new LookupdProducer(peer)))
        {
            LookupdLog.Registration(_logger, connection.Remote, "REGISTER", LookupdRegistration.ClientCategory, string.Empty, string.Empty);
        }

        // Go marshals a map here, so the keys come out sorted.
        response = new GoJsonWriter()
            .StartObject()
            .Property("broadcast_address", _lookupd.BroadcastAddress)
            .Property("hostname", _lookupd.Hostname)
            .Property("http_port", _lookupd.HttpEndPoint.Port)
            .Property("tcp_port", _lookupd.TcpEndPoint.Port)
            .Property("version", _lookupd.Options.Version)
            .EndObject()
            .ToUtf8();
        return null;
    }

    private LookupdError? Register(ClientConnection connection, ReadOnlySpan<string> parameters, out byte[] response)
    {
        response = [];
        if (connection.Peer is not { } peer)
        {
            return new LookupdError("E_INVALID", "client must IDENTIFY");
        }

        if (GetTopicChannel("REGISTER", parameters, out var topic, out var channel) is { } error)
        {
            return error;
        }

        if (channel.Length != 0 && _lookupd.Db.AddProducer(LookupdRegistration.Channel(topic, channel), new LookupdProducer(peer)))
        {
            LookupdLog.Registration(_logger, connection.Remote, "REGISTER", LookupdRegistration.ChannelCategory, topic, channel);
        }

        if (_lookupd.Db.AddProducer(LookupdRegistration.Topic(topic), new LookupdProducer(peer)))
        {
            LookupdLog.Registration(_logger, connection.Remote, "REGISTER", LookupdRegistration.TopicCategory, topic, string.Empty);
        }

        response = "OK"u8.ToArray();
        return null;
    }

    private LookupdError? Unregister(ClientConnection connection, ReadOnlySpan<string> parameters, out byte[] response)
    {
        response = [];
        if (connection.Peer is not { } peer)
        {
            return new LookupdError("E_INVALID", "client must IDENTIFY");
        }

        if (GetTopicChannel("UNREGISTER", parameters, out var topic, out var channel) is { } error)
        {
            return error;
        }

        var db = _lookupd.Db;
        if (channel.Length != 0)
        {
            var key = LookupdRegistration.Channel(topic, channel);
            var (removed, left) = db.RemoveProducer(key, peer.Id);
            if (removed)
            {
                LookupdLog.Registration(_logger, connection.Remote, "UNREGISTER", key.Category, topic, channel);
            }

            // An ephemeral channel vanishes with its last producer; durable ones stay listed.
            if (left == 0 && NsqNames.IsEphemeral(channel))
            {
                db.RemoveRegistration(key);
            }
        }
        else
        {
            // A topic going away takes its channels' producers along (nsqd normally unregisters them itself).
            foreach (var registration in db.FindRegistrations(LookupdRegistration.ChannelCategory, topic, "*"))
            {
                if (db.RemoveProducer(registration, peer.Id).Removed)
                {
                    LookupdLog.Registration(_logger, connection.Remote, "UNREGISTER", registration.Category, topic, registration.SubKey);
                }
            }

            var key = LookupdRegistration.Topic(topic);
            var (removed, left) = db.RemoveProducer(key, peer.Id);
            if (removed)
            {
                LookupdLog.Registration(_logger, connection.Remote, "UNREGISTER", key.Category, topic, string.Empty);
            }

            if (left == 0 && NsqNames.IsEphemeral(topic))
            {
                db.RemoveRegistration(key);
            }
        }

        response = "OK"u8.ToArray();
        return null;
    }

    private static LookupdError? GetTopicChannel(string command, ReadOnlySpan<string> parameters, out string topic, out string channel)
    {
        topic = string.Empty;
        channel = string.Empty;
        if (parameters.Length == 0)
        {
            return new LookupdError("E_INVALID", command + " insufficient number of params");
        }

        topic = parameters[0];
        if (parameters.Length >= 2)
        {
            channel = parameters[1];
        }

        if (!NsqNames.IsValidTopicName(topic))
        {
            return new LookupdError("E_BAD_TOPIC", $"{command} topic name '{topic}' is not valid");
        }

        if (channel.Length != 0 && !NsqNames.IsValidChannelName(channel))
        {
            return new LookupdError("E_BAD_CHANNEL", $"{command} channel name '{channel}' is not valid");
        }

        return null;
    }

    /// <summary>
    /// Decodes the IDENTIFY body into <paramref name="peer"/> with Go's <c>json.Unmarshal</c> rules for
    /// nsqlookupd's <c>PeerInfo</c>: keys match case-insensitively, unknown keys and nulls are ignored, a
    /// value of the wrong type (or a non-integer port) is an error, a top-level <c>null</c> decodes nothing.
    /// </summary>
    internal static bool TryDecodePeerInfo(ReadOnlySequence<byte> body, LookupdPeerInfo peer)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Null)
            {
                return true;
            }

            if (root.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            foreach (var property in root.EnumerateObject())
            {
                var value = property.Value;
                if (value.ValueKind == JsonValueKind.Null)
                {
                    continue;
                }

                switch (property.Name.ToLowerInvariant())
                {
                    case "remote_address":
                        if (!TryString(value, out var remoteAddress))
                        {
                            return false;
                        }

                        peer.RemoteAddress = remoteAddress;
                        break;
                    case "hostname":
                        if (!TryString(value, out var hostname))
                        {
                            return false;
                        }

                        peer.Hostname = hostname;
                        break;
                    case "broadcast_address":
                        if (!TryString(value, out var broadcastAddress))
                        {
                            return false;
                        }

                        peer.BroadcastAddress = broadcastAddress;
                        break;
                    case "tcp_port":
                        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var tcpPort))
                        {
                            return false;
                        }

                        peer.TcpPort = tcpPort;
                        break;
                    case "http_port":
                        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var httpPort))
                        {
                            return false;
                        }

                        peer.HttpPort = httpPort;
                        break;
                    case "version":
                        if (!TryString(value, out var version))
                        {
                            return false;
                        }

                        peer.Version = version;
                        break;
                }
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }

        static bool TryString(JsonElement value, out string text)
        {
            text = value.ValueKind == JsonValueKind.String ? value.GetString()! : string.Empty;
            return value.ValueKind == JsonValueKind.String;
        }
    }

    private static async ValueTask SendAsync(NetworkStream stream, byte[] data, CancellationToken cancellationToken)
    {
        var frame = new byte[4 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, data.Length);
        data.CopyTo(frame, 4);
        await stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
    }

    private sealed class ClientConnection(string remote)
    {
        public string Remote { get; } = remote;

        public LookupdPeerInfo? Peer { get; set; }
    }

    private readonly record struct LookupdError(string Code, string Description)
    {
        public override string ToString() => Code + " " + Description;
    }
}
