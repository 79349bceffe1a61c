using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using NsqTyped.Testing;

namespace NsqTyped.Tests.Support;

/// <summary>
/// A small nsqd auth server on 127.0.0.1 (the other end of nsqd's <c>--auth-http-address</c>): it answers
/// <c>GET /auth?common_name=&amp;remote_ip=&amp;secret=&amp;tls=</c> with what <see cref="INsqdAuthorizer"/>
/// decides, as the JSON nsqd expects (200), or 403 when the authorizer returns <see langword="null"/> or
/// throws. Real nsqd and the embedded server both query it, so AUTH tests run unchanged against either.
/// One request per connection (<c>Connection: close</c>).
/// </summary>
/// <example>
/// <code>
/// await using var auth = TestAuthServer.Start(new MyAuthorizer());
/// await using var nsqd = await servers.StartNsqdAsync(["--auth-http-address=" + auth.Address]);
/// </code>
/// </example>
public sealed class TestAuthServer : IAsyncDisposable
{
    private const int MaxRequestBytes = 16 * 1024;

    private readonly TcpListener _listener;
    private readonly INsqdAuthorizer _authorizer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _requests;

    private TestAuthServer(INsqdAuthorizer authorizer)
    {
        _authorizer = authorizer;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Address = $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _accepting = AcceptAsync();
    }

    /// <summary>The server's <c>host:port</c>, the value for <c>--auth-http-address</c>.</summary>
    public string Address { get; }

    /// <summary>How many auth requests were answered.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Starts a server answering with <paramref name="authorizer"/>.</summary>
    public static TestAuthServer Start(INsqdAuthorizer authorizer)
    {
        ArgumentNullException.ThrowIfNull(authorizer);
        return new TestAuthServer(authorizer);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var _ = socket;
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        try
        {
            var target = await ReadRequestTargetAsync(stream);
            var (status, body) = target is null ? (400, "bad request") : await AnswerAsync(target);
            Interlocked.Increment(ref _requests);
            var bytes = Encoding.UTF8.GetBytes(body);
            var head = $"HTTP/1.1 {status} {(status == 200 ? "OK" : "Error")}\r\nContent-Type: application/json\r\n"
                + $"Content-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), _stop.Token);
            await stream.WriteAsync(bytes, _stop.Token);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or the server is stopping.
        }
    }

    private async Task<string?> ReadRequestTargetAsync(NetworkStream stream)
    {
        var buffer = new byte[MaxRequestBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length), _stop.Token);
            if (read == 0)
            {
                return null;
            }

            length += read;
            var text = Encoding.ASCII.GetString(buffer, 0, length);
            if (text.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                // "GET /auth?... HTTP/1.1"
                var parts = text[..text.IndexOf("\r\n", StringComparison.Ordinal)].Split(' ');
                return parts is ["GET", var path, _] ? path : null;
            }
        }

        return null;
    }

    private async Task<(int Status, string Body)> AnswerAsync(string target)
    {
        var query = target.Contains('?', StringComparison.Ordinal) ? target[(target.IndexOf('?', StringComparison.Ordinal) + 1)..] : "";
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString((eq < 0 ? pair : pair[..eq]).Replace('+', ' '));
            values[key] = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
        }

        NsqdAuthState? state;
        try
        {
            state = await _authorizer.AuthorizeAsync(
                new NsqdAuthRequest
                {
                    Secret = values.GetValueOrDefault("secret", ""),
                    RemoteIp = values.GetValueOrDefault("remote_ip", ""),
                    Tls = values.GetValueOrDefault("tls") == "true",
                    CommonName = values.GetValueOrDefault("common_name", ""),
                },
                _stop.Token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            state = null;
        }

        return state is null ? (403, """{"message":"NOT_AUTHORIZED"}""") : (200, ToJson(state));
    }

    private static string ToJson(NsqdAuthState state)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("ttl", state.Ttl);
            json.WriteString("identity", state.Identity);
            json.WriteString("identity_url", state.IdentityUrl);
            json.WriteStartArray("authorizations");
            foreach (var authorization in state.Authorizations)
            {
                json.WriteStartObject();
                json.WriteString("topic", authorization.Topic);
                json.WriteStartArray("channels");
                foreach (var channel in authorization.Channels)
                {
                    json.WriteStringValue(channel);
                }

                json.WriteEndArray();
                json.WriteStartArray("permissions");
                foreach (var permission in authorization.Permissions)
                {
                    json.WriteStringValue(permission);
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
