using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NsqTyped.Testing.Nsqd.Http;

namespace NsqTyped.Testing.Lookupd;

/// <summary>What an nsqd announces about itself in the lookupd IDENTIFY.</summary>
internal sealed record LookupdPeerIdentity(string BroadcastAddress, int TcpPort, int HttpPort, string Hostname, string Version);

/// <summary>
/// The nsqd side of nsqlookupd registration (<c>nsqd/lookup.go</c>, <c>lookup_peer.go</c>): one connection
/// per lookupd TCP address, which sends the magic <c>"  V1"</c>, IDENTIFY with the nsqd's peer info,
/// REGISTERs every existing topic/channel, then forwards topic/channel creations (REGISTER) and deletions
/// (UNREGISTER) and PINGs every 15 s so lookupd keeps the producer active. As in nsqd, a lost connection
/// is noticed when a command to it fails (usually the next PING) and re-made (everything re-registered)
/// at the next command or ping tick, so a restarted lookupd lists this nsqd again 15–30 s later, not at
/// once (real nsqd v1.3.0 measured: 27 s); clients must keep consuming through that gap. Each lookupd has
/// its own loop, so an unreachable one never delays the others.
/// </summary>
internal sealed partial class LookupdRegistrar : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly LookupdPeerIdentity _identity;
    private readonly Func<IReadOnlyList<(string Topic, string? Channel)>> _snapshot;
    private readonly ILogger _logger;
    private readonly TimeSpan _pingInterval;
    private readonly TimeSpan _reconnectDelay;
    private readonly List<Peer> _peers = [];
    private bool _disposed;

    /// <param name="identity">The peer info sent in IDENTIFY.</param>
    /// <param name="addresses">Initial lookupd TCP addresses (<c>host:port</c>); see <see cref="ValidateAddresses"/>.</param>
    /// <param name="snapshot">
    /// The nsqd's current topics and channels, read at every (re)connection: a topic without channels as
    /// <c>(topic, null)</c>, otherwise one entry per channel.
    /// </param>
    /// <param name="logger">Diagnostics.</param>
    /// <param name="pingInterval">How often to PING (nsqd: 15 s).</param>
    /// <param name="reconnectDelay">How long to wait before re-connecting a lost lookupd when no command comes first (nsqd: until the next ping tick, <paramref name="pingInterval"/>).</param>
    public LookupdRegistrar(
        LookupdPeerIdentity identity,
        IEnumerable<string>? addresses,
        Func<IReadOnlyList<(string Topic, string? Channel)>> snapshot,
        ILogger logger,
        TimeSpan? pingInterval = null,
        TimeSpan? reconnectDelay = null)
    {
        _identity = identity;
        _snapshot = snapshot;
        _logger = logger;
        _pingInterval = pingInterval ?? TimeSpan.FromSeconds(15);
        _reconnectDelay = reconnectDelay ?? _pingInterval;
        SetAddresses(addresses);
    }

    /// <summary>The lookupd TCP addresses currently registered with, in the order given.</summary>
    public IReadOnlyList<string> Addresses
    {
        get
        {
            lock (_lock)
            {
                return [.. _peers.Select(p => p.Address)];
            }
        }
    }

    /// <summary>Throws unless every address is a <c>host:port</c> pair (for options checked before any I/O).</summary>
    /// <exception cref="ArgumentException">An address is not <c>host:port</c>.</exception>
    public static void ValidateAddresses(IEnumerable<string> addresses, string paramName)
    {
        ArgumentNullException.ThrowIfNull(addresses, paramName);
        foreach (var address in addresses)
        {
            HostPort.Parse(address, paramName);
        }
    }

    /// <summary>
    /// Replaces the lookupd list (nsqd's <c>PUT /config/nsqlookupd_tcp_addresses</c>): connections to
    /// addresses still listed are kept, the others closed, new ones opened. Never throws for a bad
    /// address: like nsqd, it keeps failing to connect to it and logs why.
    /// </summary>
    public void SetAddresses(IEnumerable<string>? addresses)
    {
        var wanted = new List<string>();
        foreach (var address in addresses ?? [])
        {
            if (!wanted.Contains(address, StringComparer.Ordinal))
            {
                wanted.Add(address);
            }
        }

        List<Peer> removed;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            removed = _peers.Where(p => !wanted.Contains(p.Address, StringComparer.Ordinal)).ToList();
            _peers.RemoveAll(removed.Contains);
            foreach (var address in wanted)
            {
                if (!_peers.Any(p => p.Address == address))
                {
                    _peers.Add(new Peer(this, address));
                }
            }
        }

        foreach (var peer in removed)
        {
            LookupdLog.PeerRemoved(_logger, peer.Address);
            _ = peer.DisposeAsync().AsTask();
        }
    }

    /// <summary>Announces a new topic.</summary>
    public void TopicCreated(string topic) => Enqueue(Command.Register(topic, null));

    /// <summary>Withdraws a deleted topic.</summary>
    public void TopicDeleted(string topic) => Enqueue(Command.Unregister(topic, null));

    /// <summary>Announces a new channel (which registers its topic as well).</summary>
    public void ChannelCreated(string topic, string channel) => Enqueue(Command.Register(topic, channel));

    /// <summary>Withdraws a deleted channel.</summary>
    public void ChannelDeleted(string topic, string channel) => Enqueue(Command.Unregister(topic, channel));

    /// <summary>Closes every lookupd connection (lookupd then drops this nsqd's registrations).</summary>
    public async ValueTask DisposeAsync()
    {
        List<Peer> peers;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            peers = [.. _peers];
            _peers.Clear();
        }

        foreach (var peer in peers)
        {
            await peer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void Enqueue(Command command)
    {
        lock (_lock)
        {
            foreach (var peer in _peers)
            {
                peer.Enqueue(command);
            }
        }
    }

    private readonly record struct Command(string Text)
    {
        public static Command Ping { get; } = new("PING\n");

        public static Command Register(string topic, string? channel) =>
            new(channel is null ? $"REGISTER {topic}\n" : $"REGISTER {topic} {channel}\n");

        public static Command Unregister(string topic, string? channel) =>
            new(channel is null ? $"UNREGISTER {topic}\n" : $"UNREGISTER {topic} {channel}\n");
    }

    /// <summary>One lookupd: a queue of commands drained by one loop that owns the connection.</summary>
    private sealed class Peer : IAsyncDisposable
    {
        private static readonly TimeSpan IoTimeout = TimeSpan.FromSeconds(5);

        private readonly LookupdRegistrar _owner;
        private readonly Channel<Command> _commands = Channel.CreateUnbounded<Command>(new UnboundedChannelOptions { SingleReader = true });
        private readonly CancellationTokenSource _stopping = new();
        private readonly Task _loop;
        private Socket? _socket;
        private NetworkStream? _stream;
        private bool _failing;

        public Peer(LookupdRegistrar owner, string address)
        {
            _owner = owner;
            Address = address;
            _loop = Task.Run(RunAsync);
        }

        public string Address { get; }

        public void Enqueue(Command command) => _commands.Writer.TryWrite(command);

        public async ValueTask DisposeAsync()
        {
            _commands.Writer.TryComplete();
            await _stopping.CancelAsync().ConfigureAwait(false);
            Disconnect();
            await _loop.ConfigureAwait(false);
            _stopping.Dispose();
        }

        private async Task RunAsync()
        {
            var token = _stopping.Token;
            try
            {
                await TryConnectAsync(token).ConfigureAwait(false);
                var nextPing = DateTime.UtcNow + _owner._pingInterval;
                while (!token.IsCancellationRequested)
                {
                    var wait = _stream is null ? _owner._reconnectDelay : nextPing - DateTime.UtcNow;
                    var command = await WaitForCommandAsync(wait, token).ConfigureAwait(false);
                    if (command is null && _stream is null)
                    {
                        if (await TryConnectAsync(token).ConfigureAwait(false))
                        {
                            nextPing = DateTime.UtcNow + _owner._pingInterval;
                        }

                        continue;
                    }

                    if (command is null)
                    {
                        nextPing = DateTime.UtcNow + _owner._pingInterval;
                        command = Command.Ping;
                    }

                    // While disconnected a change is not lost: the next connection registers the nsqd's full state.
                    if (_stream is null && !await TryConnectAsync(token).ConfigureAwait(false))
                    {
                        continue;
                    }

                    await TrySendAsync(command.Value, token).ConfigureAwait(false);
                }
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                // Disposal closes the socket under a pending exchange; whatever that throws is expected.
            }
            catch (ChannelClosedException)
            {
            }
            finally
            {
                Disconnect();
            }
        }

        /// <summary>The next queued command, or <see langword="null"/> when <paramref name="wait"/> passed first.</summary>
        private async Task<Command?> WaitForCommandAsync(TimeSpan wait, CancellationToken token)
        {
            if (_commands.Reader.TryRead(out var queued))
            {
                return queued;
            }

            if (wait <= TimeSpan.Zero)
            {
                return null;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(wait);
            try
            {
                if (!await _commands.Reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false))
                {
                    throw new ChannelClosedException();
                }
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                return null;
            }

            return _commands.Reader.TryRead(out queued) ? queued : null;
        }

        private async Task<bool> TryConnectAsync(CancellationToken token)
        {
            try
            {
                var (host, port) = HostPort.Parse(Address, nameof(Address));
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                _socket = socket;
                using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(token))
                {
                    timeout.CancelAfter(IoTimeout);
                    await socket.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
                }

                _stream = new NetworkStream(socket, ownsSocket: true);
                var identify = BuildIdentify(_owner._identity);
                var response = await ExchangeAsync(identify, token).ConfigureAwait(false);
                if (response.StartsWith("E_", StringComparison.Ordinal))
                {
                    throw new IOException("lookupd refused IDENTIFY: " + response);
                }

                foreach (var (topic, channel) in _owner._snapshot())
                {
                    await SendCheckedAsync(Command.Register(topic, channel), token).ConfigureAwait(false);
                }

                LookupdLog.PeerConnected(_owner._logger, Address);
                _failing = false;
                return true;
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or ArgumentException && !token.IsCancellationRequested)
            {
                ReportFailure(ex);
                Disconnect();
                return false;
            }
        }

        private async Task TrySendAsync(Command command, CancellationToken token)
        {
            try
            {
                await SendCheckedAsync(command, token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException && !token.IsCancellationRequested)
            {
                ReportFailure(ex);
                Disconnect();
            }
        }

        /// <summary>Warns once per outage; the retries of an unreachable lookupd are only debug noise.</summary>
        private void ReportFailure(Exception ex)
        {
            if (!_failing)
            {
                _failing = true;
                LookupdLog.PeerFailed(_owner._logger, Address, ex.Message);
            }
            else
            {
                LookupdLog.PeerStillFailing(_owner._logger, Address, ex.Message);
            }
        }

        /// <summary>Sends a command and reads its answer; an error answer means lookupd is closing the connection.</summary>
        private async Task SendCheckedAsync(Command command, CancellationToken token)
        {
            LookupdLog.PeerCommand(_owner._logger, Address, command.Text.TrimEnd('\n'));
            var response = await ExchangeAsync(Encoding.UTF8.GetBytes(command.Text), token).ConfigureAwait(false);
            if (response.StartsWith("E_", StringComparison.Ordinal))
            {
                throw new IOException(command.Text.TrimEnd('\n') + " failed: " + response);
            }
        }

        private async Task<string> ExchangeAsync(byte[] request, CancellationToken token)
        {
            var stream = _stream ?? throw new IOException("not connected");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(IoTimeout);
            await stream.WriteAsync(request, timeout.Token).ConfigureAwait(false);
            var header = new byte[4];
            await stream.ReadExactlyAsync(header, timeout.Token).ConfigureAwait(false);
            var size = BinaryPrimitives.ReadInt32BigEndian(header);
            if (size is < 0 or > 1024 * 1024)
            {
                throw new IOException($"lookupd sent a response of {size} bytes");
            }

            var body = new byte[size];
            await stream.ReadExactlyAsync(body, timeout.Token).ConfigureAwait(false);
            return Encoding.UTF8.GetString(body);
        }

        private void Disconnect()
        {
            var stream = Interlocked.Exchange(ref _stream, null);
            stream?.Dispose();
            Interlocked.Exchange(ref _socket, null)?.Dispose();
        }

        /// <summary>Magic, then IDENTIFY with nsqd's peer info (a Go map, so keys sorted).</summary>
        private static byte[] BuildIdentify(LookupdPeerIdentity identity)
        {
            var json = new GoJsonWriter()
                .StartObject()
                .Property("broadcast_address", identity.BroadcastAddress)
                .Property("hostname", identity.Hostname)
                .Property("http_port", identity.HttpPort)
                .Property("tcp_port", identity.TcpPort)
                .Property("version", identity.Version)
                .EndObject()
                .ToUtf8();
            var request = new byte[4 + 9 + 4 + json.Length];
            "  V1"u8.CopyTo(request);
            "IDENTIFY\n"u8.CopyTo(request.AsSpan(4));
            BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(13), json.Length);
            json.CopyTo(request, 17);
            return request;
        }
    }
}
