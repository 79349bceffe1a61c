using System.Net;
using System.Net.Sockets;

namespace NsqTyped.Tests.Support;

/// <summary>Which way bytes travel through a <see cref="FaultProxy"/>.</summary>
[Flags]
public enum FaultDirection
{
    /// <summary>From the client to the server.</summary>
    ToServer = 1,

    /// <summary>From the server to the client.</summary>
    ToClient = 2,

    /// <summary>Both ways.</summary>
    Both = ToServer | ToClient,
}

/// <summary>
/// A TCP proxy on 127.0.0.1 between a client and a server (nsqd, lookupd HTTP, anything TCP) that fails on
/// command, per direction: cut (FIN one way), blackhole (drop silently, sockets stay open), stall (hold
/// everything, in order, until resumed), drip (a few bytes at a time), delay (latency per chunk), reset
/// (RST both ways), and refuse new connections. Faults apply to live and future connections until
/// <see cref="Heal"/>. Counts the bytes that pass in each direction. No test framework dependency: the
/// tests and the soak tool link the same file.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Pair> _pairs = [];
    private readonly Task _acceptLoop;
    private readonly Faults _toServer = new();
    private readonly Faults _toClient = new();
    private long _fromClient;
    private long _fromServer;
    private int _accepted;
    private volatile bool _refuse;

    private FaultProxy(string target)
    {
        var colon = target.LastIndexOf(':');
        _targetHost = target[..colon].Trim('[', ']');
        _targetPort = int.Parse(target[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>Starts a proxy forwarding to <paramref name="target"/> (<c>host:port</c>).</summary>
    public static FaultProxy Start(string target) => new(target);

    /// <summary>The proxy's address, <c>127.0.0.1:port</c>.</summary>
    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Bytes forwarded from clients to the server.</summary>
    public long BytesFromClient => Interlocked.Read(ref _fromClient);

    /// <summary>Bytes forwarded from the server to clients.</summary>
    public long BytesFromServer => Interlocked.Read(ref _fromServer);

    /// <summary>Connections accepted so far (refused ones included).</summary>
    public int AcceptedCount => Volatile.Read(ref _accepted);

    /// <summary>Connections currently proxied.</summary>
    public int OpenCount
    {
        get
        {
            lock (_pairs)
            {
                return _pairs.Count;
            }
        }
    }

    /// <summary>Closes every proxied connection at once (both sides, orderly FIN); new connections are still accepted.</summary>
    public void Cut() => ForEachPair(pair => pair.Close(reset: false), remove: true);

    /// <summary>Resets every proxied connection (RST to both sides, nothing more delivered); new connections are still accepted.</summary>
    public void Reset() => ForEachPair(pair => pair.Close(reset: true), remove: true);

    /// <summary>
    /// Closes one direction of every live connection with a FIN (the receiving side sees the end of the
    /// stream; the other direction keeps flowing): a half-open connection.
    /// </summary>
    public void Cut(FaultDirection direction) => ForEachPair(pair => pair.HalfClose(direction), remove: false);

    /// <summary>From now on nothing passes in either direction, but the sockets stay open (a dead link).</summary>
    public void Blackhole() => Blackhole(FaultDirection.Both);

    /// <summary>From now on bytes in <paramref name="direction"/> are dropped silently (and a FIN is not passed on).</summary>
    public void Blackhole(FaultDirection direction) => Each(direction, f => f.Blackhole = true);

    /// <summary>Holds everything travelling in <paramref name="direction"/> (in order, nothing lost) until <see cref="Resume"/> or <see cref="Heal"/>.</summary>
    public void Stall(FaultDirection direction) => Each(direction, f => f.Stall());

    /// <summary>Releases what <see cref="Stall"/> held back.</summary>
    public void Resume(FaultDirection direction) => Each(direction, f => f.Resume());

    /// <summary>Shorthand for <see cref="Stall"/> towards the client.</summary>
    public void PauseServerToClient() => Stall(FaultDirection.ToClient);

    /// <summary>Shorthand for <see cref="Resume"/> towards the client.</summary>
    public void ResumeServerToClient() => Resume(FaultDirection.ToClient);

    /// <summary>Forwards <paramref name="direction"/> <paramref name="bytes"/> bytes at a time, waiting <paramref name="interval"/> after each piece.</summary>
    public void Drip(FaultDirection direction, int bytes, TimeSpan interval)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 1);
        Each(direction, f => f.Drip = (bytes, interval));
    }

    /// <summary>Delivers every chunk travelling in <paramref name="direction"/> <paramref name="latency"/> after it was read (order kept).</summary>
    public void Delay(FaultDirection direction, TimeSpan latency) => Each(direction, f => f.Latency = latency);

    /// <summary>New connections are accepted and reset at once (a node that is down); live ones are untouched.</summary>
    public void RefuseNewConnections(bool refuse = true) => _refuse = refuse;

    /// <summary>Clears every fault: nothing dropped, held, slowed or refused any more (what a blackhole dropped stays lost).</summary>
    public void Heal()
    {
        _refuse = false;
        foreach (var faults in new[] { _toServer, _toClient })
        {
            faults.Blackhole = false;
            faults.Drip = null;
            faults.Latency = TimeSpan.Zero;
            faults.Resume();
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to every connected client as if the server had sent them.</summary>
    public async Task InjectToClientsAsync(byte[] bytes)
    {
        Pair[] pairs;
        lock (_pairs)
        {
            pairs = [.. _pairs];
        }

        foreach (var pair in pairs)
        {
            await pair.WriteAsync(FaultDirection.ToClient, bytes, CancellationToken.None);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Heal();
        Cut();
        try
        {
            await _acceptLoop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private void Each(FaultDirection direction, Action<Faults> apply)
    {
        if (direction.HasFlag(FaultDirection.ToServer))
        {
            apply(_toServer);
        }

        if (direction.HasFlag(FaultDirection.ToClient))
        {
            apply(_toClient);
        }
    }

    private void ForEachPair(Action<Pair> action, bool remove)
    {
        Pair[] pairs;
        lock (_pairs)
        {
            pairs = [.. _pairs];
            if (remove)
            {
                _pairs.Clear();
            }
        }

        foreach (var pair in pairs)
        {
            action(pair);
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            if (_refuse)
            {
                client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            var server = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await server.ConnectAsync(_targetHost, _targetPort, _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }

            client.NoDelay = true;
            var pair = new Pair(client, server);
            lock (_pairs)
            {
                _pairs.Add(pair);
            }

            _ = PumpAsync(pair, FaultDirection.ToServer);
            _ = PumpAsync(pair, FaultDirection.ToClient);
        }
    }

    private async Task PumpAsync(Pair pair, FaultDirection direction)
    {
        var faults = direction == FaultDirection.ToServer ? _toServer : _toClient;
        var from = direction == FaultDirection.ToServer ? pair.Client : pair.Server;
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (read == 0)
                {
                    break;
                }

                await faults.WaitWhileStalledAsync();
                if (faults.Latency > TimeSpan.Zero)
                {
                    await Task.Delay(faults.Latency);
                }

                if (faults.Blackhole)
                {
                    continue;
                }

                var chunk = buffer.AsMemory(0, read);
                if (faults.Drip is { } drip)
                {
                    for (var at = 0; at < read; at += drip.Bytes)
                    {
                        await pair.WriteAsync(direction, chunk.Slice(at, Math.Min(drip.Bytes, read - at)), CancellationToken.None);
                        await Task.Delay(drip.Interval);
                    }
                }
                else
                {
                    await pair.WriteAsync(direction, chunk, CancellationToken.None);
                }

                Interlocked.Add(ref direction == FaultDirection.ToServer ? ref _fromClient : ref _fromServer, read);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The pair was cut or reset, or a side went away.
        }

        if (faults.Blackhole)
        {
            // A dead link delivers no FIN either: the other side stays open until Cut, Reset or dispose.
            return;
        }

        // Pass the end of the stream on; the pair closes once both directions ended.
        if (pair.HalfClose(direction))
        {
            lock (_pairs)
            {
                _pairs.Remove(pair);
            }

            pair.Close(reset: false);
        }
    }

    /// <summary>The faults of one direction, read by that direction's pumps.</summary>
    private sealed class Faults
    {
        private readonly object _lock = new();
        private TaskCompletionSource? _stalled;

        public volatile bool Blackhole;

        public (int Bytes, TimeSpan Interval)? Drip { get; set; }

        public TimeSpan Latency { get; set; }

        public void Stall()
        {
            lock (_lock)
            {
                _stalled ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        public void Resume()
        {
            lock (_lock)
            {
                _stalled?.TrySetResult();
                _stalled = null;
            }
        }

        public Task WaitWhileStalledAsync()
        {
            lock (_lock)
            {
                return _stalled?.Task ?? Task.CompletedTask;
            }
        }
    }

    private sealed class Pair(Socket client, Socket server)
    {
        private readonly SemaphoreSlim _toClientWrite = new(1, 1);
        private readonly SemaphoreSlim _toServerWrite = new(1, 1);
        private int _ended;
        private int _closed;

        public Socket Client { get; } = client;

        public Socket Server { get; } = server;

        public async Task WriteAsync(FaultDirection direction, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
        {
            var (gate, to) = direction == FaultDirection.ToServer ? (_toServerWrite, Server) : (_toClientWrite, Client);
            await gate.WaitAsync(cancellationToken);
            try
            {
                while (!bytes.IsEmpty)
                {
                    var sent = await to.SendAsync(bytes, SocketFlags.None, cancellationToken);
                    bytes = bytes[sent..];
                }
            }
            finally
            {
                gate.Release();
            }
        }

        /// <summary>Sends a FIN in <paramref name="direction"/>; true once both directions have ended.</summary>
        public bool HalfClose(FaultDirection direction)
        {
            var bit = direction.HasFlag(FaultDirection.Both) ? 3 : (int)direction;
            try
            {
                if (direction.HasFlag(FaultDirection.ToServer))
                {
                    Server.Shutdown(SocketShutdown.Send);
                }

                if (direction.HasFlag(FaultDirection.ToClient))
                {
                    Client.Shutdown(SocketShutdown.Send);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Already closed.
            }

            int before;
            int after;
            do
            {
                before = Volatile.Read(ref _ended);
                after = before | bit;
            }
            while (Interlocked.CompareExchange(ref _ended, after, before) != before);
            return after == 3;
        }

        public void Close(bool reset)
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            foreach (var socket in new[] { Client, Server })
            {
                try
                {
                    if (reset)
                    {
                        socket.LingerState = new LingerOption(true, 0);
                    }

                    socket.Dispose();
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    // Already closed.
                }
            }
        }
    }
}
