using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NsqTyped.Testing.Tests.Lookupd;

/// <summary>The nsqlookupd HTTP API: statuses, headers and exact bodies as nsqlookupd v1.3.0 answers them.</summary>
public sealed class LookupdHttpApiTests : IAsyncLifetime
{
    private EmbeddedNsqlookupd _lookupd = null!;

    public async ValueTask InitializeAsync() =>
        _lookupd = await EmbeddedNsqlookupd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync() => await _lookupd.DisposeAsync();

    [Fact]
    public async Task Ping_is_plain_text_OK_without_nsq_content_type()
    {
        var response = await RawHttpAsync("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response.Head);
        Assert.Equal("text/plain; charset=utf-8", response.Header("Content-Type"));
        Assert.Equal("2", response.Header("Content-Length"));
        Assert.Null(response.Header("X-Nsq-Content-Type"));
        Assert.Null(response.Header("Server"));
        Assert.NotNull(response.Header("Date"));
        Assert.Equal("OK", response.Body);
    }

    [Fact]
    public async Task Info_reports_the_version_with_v1_headers()
    {
        var response = await RawHttpAsync("GET /info HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response.Head);
        Assert.Equal("application/json; charset=utf-8", response.Header("Content-Type"));
        Assert.Equal("nsq; version=1.0", response.Header("X-Nsq-Content-Type"));
        Assert.Equal("19", response.Header("Content-Length"));
        Assert.Null(response.Header("Server"));
        Assert.Equal("""{"version":"1.3.0"}""", response.Body);
    }

    [Fact]
    public async Task Unknown_path_is_404_NOT_FOUND()
    {
        var response = await RawHttpAsync("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 404 Not Found\r\n", response.Head);
        Assert.Equal("application/json; charset=utf-8", response.Header("Content-Type"));
        Assert.Equal("nsq; version=1.0", response.Header("X-Nsq-Content-Type"));
        Assert.Equal("""{"message":"NOT_FOUND"}""", response.Body);
    }

    [Theory]
    [InlineData("POST", "/lookup?topic=x", "GET, OPTIONS")]
    [InlineData("GET", "/topic/create?topic=x", "OPTIONS, POST")]
    [InlineData("PUT", "/ping", "GET, OPTIONS")]
    public async Task Wrong_method_is_405_with_allow(string method, string path, string allow)
    {
        var response = await RawHttpAsync($"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 405 Method Not Allowed\r\n", response.Head);
        Assert.Equal(allow, response.Header("Allow"));
        Assert.Equal("nsq; version=1.0", response.Header("X-Nsq-Content-Type"));
        Assert.Equal("""{"message":"METHOD_NOT_ALLOWED"}""", response.Body);
    }

    [Fact]
    public async Task Bad_percent_escape_is_400_INVALID_REQUEST()
    {
        var response = await RawHttpAsync("GET /lookup?topic=%zz HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", response.Head);
        Assert.Equal("""{"message":"INVALID_REQUEST"}""", response.Body);
    }

    [Fact]
    public async Task Options_is_answered_with_allow_and_an_empty_body()
    {
        var response = await RawHttpAsync("OPTIONS /nodes HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response.Head);
        Assert.Equal("GET, OPTIONS", response.Header("Allow"));
        Assert.Equal("0", response.Header("Content-Length"));
        Assert.Equal(string.Empty, response.Body);
    }

    [Theory]
    [InlineData("/lookup", 400, """{"message":"MISSING_ARG_TOPIC"}""")]
    [InlineData("/lookup?topic=conf.unknown", 404, """{"message":"TOPIC_NOT_FOUND"}""")]
    [InlineData("/lookup?topic=a;b", 400, """{"message":"INVALID_REQUEST"}""")]
    [InlineData("/channels?topic=x&a;b", 400, """{"message":"INVALID_REQUEST"}""")]
    [InlineData("/topics?a;b", 200, """{"topics":[]}""")]
    [InlineData("/channels", 400, """{"message":"MISSING_ARG_TOPIC"}""")]
    [InlineData("/channels?topic=conf.unknown", 200, """{"channels":[]}""")]
    [InlineData("/topics", 200, """{"topics":[]}""")]
    [InlineData("/nodes", 200, """{"producers":[]}""")]
    [InlineData("/debug", 200, "{}")]
    public async Task Queries_on_an_empty_lookupd(string path, int status, string body)
    {
        Assert.Equal((status, body), await LookupdHttp.GetAsync(_lookupd, path));
    }

    [Theory]
    [InlineData("/topic/create", 400, """{"message":"MISSING_ARG_TOPIC"}""")]
    [InlineData("/topic/create?topic=bad!topic", 400, """{"message":"INVALID_ARG_TOPIC"}""")]
    [InlineData("/topic/delete", 400, """{"message":"MISSING_ARG_TOPIC"}""")]
    [InlineData("/topic/delete?topic=conf.nosuch", 200, "")]
    [InlineData("/channel/create?topic=conf.la", 400, """{"message":"MISSING_ARG_CHANNEL"}""")]
    [InlineData("/channel/create?channel=ch", 400, """{"message":"MISSING_ARG_TOPIC"}""")]
    [InlineData("/channel/create?topic=bad!&channel=bad/ch", 400, """{"message":"INVALID_ARG_TOPIC"}""")]
    [InlineData("/channel/create?topic=conf.la&channel=bad/ch", 400, """{"message":"INVALID_ARG_CHANNEL"}""")]
    [InlineData("/channel/delete?topic=conf.la&channel=ch1", 404, """{"message":"CHANNEL_NOT_FOUND"}""")]
    [InlineData("/topic/tombstone?topic=conf.tomb", 400, """{"message":"MISSING_ARG_NODE"}""")]
    [InlineData("/topic/tombstone?node=127.0.0.1:4151", 400, """{"message":"MISSING_ARG_TOPIC"}""")]
    [InlineData("/topic/tombstone?topic=conf.nosuch&node=127.0.0.1:4151", 200, "")]
    public async Task Admin_argument_checks(string path, int status, string body)
    {
        Assert.Equal((status, body), await LookupdHttp.PostAsync(_lookupd, path));
    }

    [Fact]
    public async Task Successful_admin_calls_have_an_empty_body_without_content_type()
    {
        var response = await RawHttpAsync("POST /topic/create?topic=conf.hdr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response.Head);
        Assert.Null(response.Header("Content-Type"));
        Assert.Equal("nsq; version=1.0", response.Header("X-Nsq-Content-Type"));
        Assert.Equal("0", response.Header("Content-Length"));
        Assert.Equal(string.Empty, response.Body);
    }

    [Fact]
    public async Task Topics_and_channels_created_over_http_have_no_producers()
    {
        Assert.Equal(200, (await LookupdHttp.PostAsync(_lookupd, "/topic/create?topic=conf.la")).Status);
        Assert.Equal(200, (await LookupdHttp.PostAsync(_lookupd, "/channel/create?topic=conf.la&channel=ch1")).Status);
        Assert.Equal(200, (await LookupdHttp.PostAsync(_lookupd, "/channel/create?topic=conf.lb&channel=ch1")).Status);

        Assert.Equal((200, """{"topics":["conf.la","conf.lb"]}"""), await LookupdHttp.GetAsync(_lookupd, "/topics"));
        Assert.Equal((200, """{"channels":["ch1"]}"""), await LookupdHttp.GetAsync(_lookupd, "/channels?topic=conf.la"));
        Assert.Equal((200, """{"channels":["ch1"],"producers":[]}"""), await LookupdHttp.GetAsync(_lookupd, "/lookup?topic=conf.lb"));
        Assert.Equal((200, """{"channels":["ch1"],"producers":[]}"""), await LookupdHttp.GetAsync(_lookupd, "/lookup?topic=conf.la"));
    }

    [Fact]
    public async Task Delete_topic_removes_it_with_its_channels()
    {
        await LookupdHttp.PostAsync(_lookupd, "/channel/create?topic=conf.del&channel=ch1");
        await LookupdHttp.PostAsync(_lookupd, "/topic/create?topic=conf.keep");

        Assert.Equal((200, ""), await LookupdHttp.PostAsync(_lookupd, "/channel/delete?topic=conf.del&channel=ch1"));
        Assert.Equal((404, """{"message":"CHANNEL_NOT_FOUND"}"""), await LookupdHttp.PostAsync(_lookupd, "/channel/delete?topic=conf.del&channel=ch1"));
        await LookupdHttp.PostAsync(_lookupd, "/channel/create?topic=conf.del&channel=ch2");
        Assert.Equal((200, ""), await LookupdHttp.PostAsync(_lookupd, "/topic/delete?topic=conf.del"));

        Assert.Equal((200, """{"topics":["conf.keep"]}"""), await LookupdHttp.GetAsync(_lookupd, "/topics"));
        Assert.Equal((200, """{"channels":[]}"""), await LookupdHttp.GetAsync(_lookupd, "/channels?topic=conf.del"));
    }

    [Fact]
    public async Task Nodes_lists_identified_producers_with_their_topics_and_tombstones()
    {
        await using var nsqd = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);
        await nsqd.IdentifyAsync(RawLookupdConnection.PeerJson(tcpPort: 4150, httpPort: 4151));
        await nsqd.CommandAsync("REGISTER conf.n1 ch1\n");
        await nsqd.CommandAsync("REGISTER conf.n2\n");

        Assert.Equal((200, ""), await LookupdHttp.PostAsync(_lookupd, "/topic/tombstone?topic=conf.n2&node=127.0.0.1:4151"));

        var (status, body) = await LookupdHttp.GetAsync(_lookupd, "/nodes");
        Assert.Equal(200, status);
        Assert.Equal(
            $$"""{"producers":[{"remote_address":"{{nsqd.LocalAddress}}","hostname":"test-host","broadcast_address":"127.0.0.1","tcp_port":4150,"http_port":4151,"version":"1.3.0","tombstones":[false,true],"topics":["conf.n1","conf.n2"]}]}""",
            body);
    }

    [Fact]
    public async Task Tombstone_hides_the_producer_from_lookup_only_for_the_matching_http_node()
    {
        await using var nsqd = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);
        await nsqd.IdentifyAsync(RawLookupdConnection.PeerJson(tcpPort: 4150, httpPort: 4151));
        await nsqd.CommandAsync("REGISTER conf.tomb\n");

        // The TCP port does not name the node: nothing happens.
        Assert.Equal((200, ""), await LookupdHttp.PostAsync(_lookupd, "/topic/tombstone?topic=conf.tomb&node=127.0.0.1:4150"));
        Assert.Single(await LookupdHttp.LookupProducersAsync(_lookupd, "conf.tomb"));

        Assert.Equal((200, ""), await LookupdHttp.PostAsync(_lookupd, "/topic/tombstone?topic=conf.tomb&node=127.0.0.1:4151"));

        Assert.Equal((200, """{"channels":[],"producers":[]}"""), await LookupdHttp.GetAsync(_lookupd, "/lookup?topic=conf.tomb"));
        Assert.Equal(["conf.tomb"], await LookupdHttp.StringArrayAsync(_lookupd, "/topics", "topics"));
        var node = (await LookupdHttp.GetJsonAsync(_lookupd, "/nodes")).GetProperty("producers")[0];
        Assert.True(node.GetProperty("tombstones")[0].GetBoolean());
    }

    [Fact]
    public async Task Debug_dumps_registrations_with_sorted_keys()
    {
        await using var nsqd = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);
        await nsqd.IdentifyAsync();
        await nsqd.CommandAsync("REGISTER conf.dbg ch1\n");
        await LookupdHttp.PostAsync(_lookupd, "/topic/create?topic=conf.empty");

        var debug = await LookupdHttp.GetJsonAsync(_lookupd, "/debug");

        Assert.Equal(["channel:conf.dbg:ch1", "client::", "topic:conf.dbg:"], debug.EnumerateObject().Select(p => p.Name));
        var entry = debug.GetProperty("topic:conf.dbg:")[0];
        Assert.Equal(
            ["broadcast_address", "hostname", "http_port", "id", "last_update", "tcp_port", "tombstoned", "tombstoned_at", "version"],
            entry.EnumerateObject().Select(p => p.Name));
        Assert.Equal(nsqd.LocalAddress, entry.GetProperty("id").GetString());
        Assert.False(entry.GetProperty("tombstoned").GetBoolean());
        Assert.Equal(-6795364578871345152, entry.GetProperty("tombstoned_at").GetInt64());
    }

    private async Task<RawHttpResponse> RawHttpAsync(string request)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_lookupd.HttpEndPoint, TestContext.Current.CancellationToken);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request.Replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")), TestContext.Current.CancellationToken);
        using var stream = new NetworkStream(socket);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, timeout.Token);
        var text = Encoding.UTF8.GetString(buffer.ToArray());
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return new RawHttpResponse(text[..split], text[(split + 4)..]);
    }

    private sealed record RawHttpResponse(string Head, string Body)
    {
        public string? Header(string name) => Head.Split("\r\n")
            .Skip(1)
            .Where(line => line.StartsWith(name + ":", StringComparison.Ordinal))
            .Select(line => line[(name.Length + 1)..].Trim())
            .SingleOrDefault();
    }
}
