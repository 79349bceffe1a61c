using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NsqTyped.Testing.Nsqd.Broker;

namespace NsqTyped.Testing.Nsqd.Tcp;

/// <summary>Accepts TCP connections and runs one <see cref="NsqdTcpSession"/> per socket.</summary>
internal sealed class NsqdTcpListener : IAsyncDisposable
{
    private readonly NsqdBroker _broker;
    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<NsqdTcpSession, Task> _sessions = new();
    private Task _acceptLoop = Task.CompletedTask;

    public NsqdTcpListener(NsqdBroker broker, IPEndPoint endPoint)
    {
        _broker = broker;
        _logger = broker.LoggerFactory.CreateLogger("NsqTyped.Testing.Nsqd.Tcp");
        _socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _socket.Bind(endPoint);
            _socket.Listen(512);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    /// <summary>The bound end point (with the real port when port 0 was asked for).</summary>
    public IPEndPoint EndPoint { get; }

    public void Start() => _acceptLoop = Task.Run(AcceptLoopAsync);

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            client.NoDelay = true;
            var session = new NsqdTcpSession(_broker, client, _logger);
            _sessions[session] = RunSessionAsync(session);
        }
    }

    private async Task RunSessionAsync(NsqdTcpSession session)
    {
        await Task.Yield();
        try
        {
            await session.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            _sessions.TryRemove(session, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        foreach (var session in _sessions.Keys)
        {
            session.CloseConnection();
        }

        await Task.WhenAll(_sessions.Values).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
