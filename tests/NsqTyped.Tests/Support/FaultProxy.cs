using System.Net;
using System.Net.Sockets;

namespace NsqTyped.Tests.Support;

/// <summary>
/// A TCP proxy on 127.0.0.1 between a client and a server that can fail on command: cut every
/// connection, black-hole them (sockets stay open, nothing passes), or inject bytes towards the
/// client. Counts the bytes that pass in each direction.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Pair> _pairs = [];
    private readonly Task _acceptLoop;
    private long _fromClient;
    private long _fromServer;
    private volatile bool _blackhole;
    private TaskCompletionSource _serverToClientGate = CompletedGate();

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

    /// <summary>Connections accepted so far.</summary>
    public int AcceptedCount { get; private set; }

    /// <summary>Closes every proxied connection at once (both sides); new connections are still accepted.</summary>
    public void Cut()
    {
        Pair[] pairs;
        lock (_pairs)
        {
            pairs = [.. _pairs];
            _pairs.Clear();
        }

        foreach (var pair in pairs)
        {
            pair.Dispose();
        }
    }

    /// <summary>From now on nothing passes in either direction, but the sockets stay open (a dead link).</summary>
    public void Blackhole() => _blackhole = true;

    /// <summary>Holds everything the server sends (in order) until <see cref="ResumeServerToClient"/>.</summary>
    public void PauseServerToClient() => Interlocked.Exchange(ref _serverToClientGate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Releases what <see cref="PauseServerToClient"/> held back.</summary>
    public void ResumeServerToClient() => Volatile.Read(ref _serverToClientGate).TrySetResult();

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
            await pair.WriteToClientAsync(bytes);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Cut();
        try
        {
            await _acceptLoop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
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

            AcceptedCount++;
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

            _ = PumpAsync(pair, client, server, fromClient: true);
            _ = PumpAsync(pair, server, client, fromClient: false);
        }
    }

    private async Task PumpAsync(Pair pair, Socket from, Socket to, bool fromClient)
    {
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

                if (_blackhole)
                {
                    continue;
                }

                if (fromClient)
                {
                    Interlocked.Add(ref _fromClient, read);
                    await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                }
                else
                {
                    await Volatile.Read(ref _serverToClientGate).Task;
                    Interlocked.Add(ref _fromServer, read);
                    await pair.WriteToClientAsync(buffer.AsMemory(0, read));
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        if (_blackhole)
        {
            // A dead link delivers no FIN either: the other side stays open until Cut or dispose.
            return;
        }

        lock (_pairs)
        {
            _pairs.Remove(pair);
        }

        pair.Dispose();
    }

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    private sealed class Pair(Socket client, Socket server) : IDisposable
    {
        private readonly SemaphoreSlim _clientWrite = new(1, 1);

        public async Task WriteToClientAsync(ReadOnlyMemory<byte> bytes)
        {
            await _clientWrite.WaitAsync();
            try
            {
                await client.SendAsync(bytes, SocketFlags.None);
            }
            finally
            {
                _clientWrite.Release();
            }
        }

        public void Dispose()
        {
            client.Dispose();
            server.Dispose();
        }
    }
}
