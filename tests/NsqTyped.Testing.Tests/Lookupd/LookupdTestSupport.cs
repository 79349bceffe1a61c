using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace NsqTyped.Testing.Tests.Lookupd;

/// <summary>Waits for asynchronous state (registration travels over TCP) with a deadline instead of sleeping.</summary>
internal static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    public static async Task AssertAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out waiting until " + what);
            }

            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }
}

/// <summary>A raw nsqlookupd TCP client: bytes out, <c>[int32 size][data]</c> responses in.</summary>
internal sealed class RawLookupdConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private RawLookupdConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>The client's own address, which lookupd reports as <c>remote_address</c>.</summary>
    public string LocalAddress
    {
        get
        {
            var local = (IPEndPoint)_socket.LocalEndPoint!;
            return new IPEndPoint(local.Address.IsIPv4MappedToIPv6 ? local.Address.MapToIPv4() : local.Address, local.Port).ToString();
        }
    }

    public static async Task<RawLookupdConnection> ConnectAsync(IPEndPoint endPoint, bool sendMagic = true)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint, TestContext.Current.CancellationToken);
        var connection = new RawLookupdConnection(socket);
        if (sendMagic)
        {
            await connection.SendAsync("  V1"u8.ToArray());
        }

        return connection;
    }

    public static byte[] Identify(string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[9 + 4 + body.Length];
        "IDENTIFY\n"u8.CopyTo(bytes);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(9), body.Length);
        body.CopyTo(bytes, 13);
        return bytes;
    }

    public static string PeerJson(int tcpPort = 4150, int httpPort = 4151, string broadcastAddress = "127.0.0.1") =>
        $$"""{"broadcast_address":"{{broadcastAddress}}","hostname":"test-host","http_port":{{httpPort}},"tcp_port":{{tcpPort}},"version":"1.3.0"}""";

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes, TestContext.Current.CancellationToken);

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Reads one response: the raw frame (size prefix included).</summary>
    public async Task<byte[]> ReadRawResponseAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var header = new byte[4];
        await _stream.ReadExactlyAsync(header, timeout.Token);
        var size = BinaryPrimitives.ReadInt32BigEndian(header);
        var frame = new byte[4 + size];
        header.CopyTo(frame, 0);
        await _stream.ReadExactlyAsync(frame.AsMemory(4), timeout.Token);
        return frame;
    }

    public async Task<string> ReadResponseAsync() => Encoding.UTF8.GetString((await ReadRawResponseAsync()).AsSpan(4));

    public async Task<string> CommandAsync(string line)
    {
        await SendAsync(line);
        return await ReadResponseAsync();
    }

    public async Task<string> IdentifyAsync(string? json = null)
    {
        await SendAsync(Identify(json ?? PeerJson()));
        return await ReadResponseAsync();
    }

    /// <summary>True when the server closed the connection (EOF or reset) within the timeout.</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            var buffer = new byte[1];
            return await _stream.ReadAsync(buffer, timeout.Token) == 0;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync() => await _stream.DisposeAsync();
}

/// <summary>Plain HTTP helpers against the lookupd HTTP API.</summary>
internal static class LookupdHttp
{
    private static readonly HttpClient Client = new(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.Zero });

    public static async Task<HttpResponseMessage> SendAsync(EmbeddedNsqlookupdRef lookupd, HttpMethod method, string pathAndQuery)
    {
        using var request = new HttpRequestMessage(method, new Uri(lookupd.Uri, pathAndQuery));
        if (method == HttpMethod.Post)
        {
            request.Content = new ByteArrayContent([]);
        }

        return await Client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    public static async Task<(int Status, string Body)> GetAsync(EmbeddedNsqlookupdRef lookupd, string pathAndQuery)
    {
        using var response = await SendAsync(lookupd, HttpMethod.Get, pathAndQuery);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    public static async Task<(int Status, string Body)> PostAsync(EmbeddedNsqlookupdRef lookupd, string pathAndQuery)
    {
        using var response = await SendAsync(lookupd, HttpMethod.Post, pathAndQuery);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    public static async Task<JsonElement> GetJsonAsync(EmbeddedNsqlookupdRef lookupd, string pathAndQuery)
    {
        var (status, body) = await GetAsync(lookupd, pathAndQuery);
        Assert.Equal(200, status);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>The producers lookupd returns for a topic, or none when it answers 404.</summary>
    public static async Task<List<JsonElement>> LookupProducersAsync(EmbeddedNsqlookupdRef lookupd, string topic)
    {
        var (status, body) = await GetAsync(lookupd, "/lookup?topic=" + topic);
        if (status == 404)
        {
            return [];
        }

        Assert.Equal(200, status);
        return [.. JsonDocument.Parse(body).RootElement.GetProperty("producers").EnumerateArray().Select(e => e.Clone())];
    }

    public static async Task<List<string>> StringArrayAsync(EmbeddedNsqlookupdRef lookupd, string pathAndQuery, string property)
    {
        var json = await GetJsonAsync(lookupd, pathAndQuery);
        return [.. json.GetProperty(property).EnumerateArray().Select(e => e.GetString()!)];
    }
}

/// <summary>Where a lookupd's HTTP API is (an embedded one, or one inside a cluster).</summary>
internal readonly record struct EmbeddedNsqlookupdRef(Uri Uri)
{
    public static implicit operator EmbeddedNsqlookupdRef(NsqTyped.Testing.EmbeddedNsqlookupd lookupd) => new(lookupd.HttpUri);
}
