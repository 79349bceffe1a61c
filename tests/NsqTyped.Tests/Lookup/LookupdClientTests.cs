using System.Net;
using NsqTyped.Tests.Http;

namespace NsqTyped.Tests.Lookup;

/// <summary>Behaviour of <see cref="LookupdClient"/> against an in-memory handler.</summary>
public sealed class LookupdClientTests
{
    private static readonly Uri Base = new("http://127.0.0.1:4161/");

    private const string OneProducer =
        """{"channels":["ch1"],"producers":[{"remote_address":"127.0.0.1:42676","hostname":"vm","broadcast_address":"127.0.0.1","tcp_port":4150,"http_port":4151,"version":"1.3.0"}]}""";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static (LookupdClient Client, FakeHttpHandler Handler) Create(FakeHttpHandler handler) =>
        (new LookupdClient(Base, new HttpClient(handler)), handler);

    [Fact]
    public async Task Lookup_returns_producers_and_channels()
    {
        var (client, handler) = Create(FakeHttpHandler.Always(OneProducer));

        var result = await client.LookupAsync("orders", Token);

        Assert.Equal("/lookup?topic=orders", Assert.Single(handler.Requests).PathAndQuery);
        Assert.Equal(["ch1"], result.Channels);
        var producer = Assert.Single(result.Producers);
        Assert.Equal("127.0.0.1", producer.BroadcastAddress);
        Assert.Equal(4150, producer.TcpPort);
        Assert.Equal(4151, producer.HttpPort);
        Assert.Equal("vm", producer.Hostname);
        Assert.Equal("127.0.0.1:42676", producer.RemoteAddress);
        Assert.Equal("1.3.0", producer.Version);
        Assert.Equal("127.0.0.1:4150", producer.TcpAddress);
        Assert.Equal("127.0.0.1:4151", producer.HttpAddress);
    }

    [Fact]
    public async Task Lookup_of_an_unknown_topic_is_an_empty_result()
    {
        var (client, _) = Create(new FakeHttpHandler(_ => FakeHttpHandler.Answer(HttpStatusCode.NotFound, """{"message":"TOPIC_NOT_FOUND"}""")));

        var result = await client.LookupAsync("nobody.publishes.this", Token);

        Assert.Empty(result.Producers);
        Assert.Empty(result.Channels);
    }

    [Fact]
    public async Task Lookup_against_a_wrong_path_still_throws()
    {
        var (client, _) = Create(new FakeHttpHandler(_ => FakeHttpHandler.Answer(HttpStatusCode.NotFound, """{"message":"NOT_FOUND"}""")));

        var ex = await Assert.ThrowsAsync<NsqHttpException>(async () => await client.LookupAsync("orders", Token));

        Assert.Equal("NOT_FOUND", ex.NsqCode);
    }

    [Fact]
    public async Task Lookup_unwraps_the_legacy_envelope_when_the_v1_header_is_absent()
    {
        var (client, _) = Create(new FakeHttpHandler(_ => FakeHttpHandler.Answer(
            HttpStatusCode.OK, $$"""{"status_code":200,"status_txt":"OK","data":{{OneProducer}}}""", v1: false)));

        var result = await client.LookupAsync("orders", Token);

        Assert.Equal(4150, Assert.Single(result.Producers).TcpPort);
    }

    [Fact]
    public async Task A_legacy_topic_not_found_is_an_empty_result_too()
    {
        var (client, _) = Create(new FakeHttpHandler(_ => FakeHttpHandler.Answer(
            HttpStatusCode.InternalServerError, """{"status_code":500,"status_txt":"TOPIC_NOT_FOUND","data":null}""", v1: false)));

        var result = await client.LookupAsync("orders", Token);

        Assert.Same(NsqLookupResult.Empty, result);
    }

    [Fact]
    public async Task Nodes_lists_topics_with_their_tombstones()
    {
        var (client, handler) = Create(FakeHttpHandler.Always(
            """{"producers":[{"remote_address":"127.0.0.1:42688","hostname":"vm","broadcast_address":"127.0.0.1","tcp_port":4150,"http_port":4151,"version":"1.3.0","tombstones":[true,false],"topics":["a","b"]}]}"""));

        var nodes = await client.NodesAsync(Token);

        Assert.Equal("/nodes", Assert.Single(handler.Requests).PathAndQuery);
        var node = Assert.Single(nodes);
        Assert.Equal(["a", "b"], node.Topics);
        Assert.True(node.IsTombstoned("a"));
        Assert.False(node.IsTombstoned("b"));
        Assert.False(node.IsTombstoned("c"));
        Assert.Equal("127.0.0.1:4151", node.TombstoneNode);
    }

    [Fact]
    public async Task Topics_and_channels_are_read_from_their_envelopes()
    {
        var (client, handler) = Create(new FakeHttpHandler(request => FakeHttpHandler.Answer(HttpStatusCode.OK,
            request.RequestUri!.AbsolutePath == "/topics" ? """{"topics":["a","b"]}""" : """{"channels":null}""")));

        Assert.Equal(["a", "b"], await client.TopicsAsync(Token));
        Assert.Empty(await client.ChannelsAsync("a", Token));
        Assert.Equal(["/topics", "/channels?topic=a"], handler.Requests.Select(r => r.PathAndQuery));
    }

    [Fact]
    public async Task Registry_commands_post_to_their_endpoints()
    {
        var (client, handler) = Create(FakeHttpHandler.Always(""));

        await client.CreateTopicAsync("t", Token);
        await client.CreateChannelAsync("t", "c", Token);
        await client.DeleteChannelAsync("t", "c", Token);
        await client.DeleteTopicAsync("t", Token);
        await client.TombstoneTopicProducerAsync("t", "127.0.0.1:4151", Token);
        await client.TombstoneTopicProducerAsync("t", new NsqLookupProducer { BroadcastAddress = "nsqd-1", TcpPort = 4150, HttpPort = 4251 }, Token);

        Assert.All(handler.Requests, r => Assert.Equal("POST", r.Method));
        Assert.Equal(
            [
                "/topic/create?topic=t", "/channel/create?topic=t&channel=c", "/channel/delete?topic=t&channel=c", "/topic/delete?topic=t",
                "/topic/tombstone?topic=t&node=127.0.0.1:4151", "/topic/tombstone?topic=t&node=nsqd-1:4251",
            ],
            handler.Requests.Select(r => r.PathAndQuery));
    }

    [Fact]
    public async Task Ping_and_info_use_get()
    {
        var (client, handler) = Create(new FakeHttpHandler(request => FakeHttpHandler.Answer(HttpStatusCode.OK,
            request.RequestUri!.AbsolutePath == "/info" ? """{"version":"1.3.0"}""" : "OK", v1: request.RequestUri!.AbsolutePath == "/info")));

        await client.PingAsync(Token);
        var info = await client.InfoAsync(Token);

        Assert.Equal("1.3.0", info.Version);
        Assert.All(handler.Requests, r => Assert.Equal("GET", r.Method));
        Assert.All(handler.Requests, r => Assert.Equal("application/vnd.nsq; version=1.0", r.Accept));
    }

    [Fact]
    public async Task Invalid_names_and_nodes_are_rejected_before_sending()
    {
        var (client, handler) = Create(FakeHttpHandler.Always(""));
        Func<ValueTask>[] calls =
        [
            async () => await client.LookupAsync("bad!topic", Token),
            async () => await client.LookupAsync("", Token),
            async () => await client.ChannelsAsync("bad!topic", Token),
            () => client.CreateTopicAsync("bad!topic", Token),
            () => client.DeleteTopicAsync(new string('t', 65), Token),
            () => client.CreateChannelAsync("t", "bad/ch", Token),
            () => client.DeleteChannelAsync("t", "", Token),
            () => client.TombstoneTopicProducerAsync("bad!topic", "127.0.0.1:4151", Token),
            () => client.TombstoneTopicProducerAsync("t", "", Token),
            () => client.TombstoneTopicProducerAsync("t", "127.0.0.1", Token),
            () => client.TombstoneTopicProducerAsync("t", "127.0.0.1:", Token),
            () => client.TombstoneTopicProducerAsync("t", ":4151", Token),
            () => client.TombstoneTopicProducerAsync("t", "127.0.0.1:0", Token),
            () => client.TombstoneTopicProducerAsync("t", "127.0.0.1:70000", Token),
            () => client.TombstoneTopicProducerAsync("t", "127.0.0.1:http", Token),
            () => client.TombstoneTopicProducerAsync("t", "my host:4151", Token),
        ];

        for (var i = 0; i < calls.Length; i++)
        {
            var call = calls[i];
            var ex = await Record.ExceptionAsync(async () => await call());
            Assert.True(ex is ArgumentException, $"call {i} threw {ex?.GetType().Name ?? "nothing"}");
        }

        Assert.Empty(handler.Requests);
    }

    [Fact]
    public void Addresses_are_validated_when_the_client_is_created()
    {
        Assert.Throws<ArgumentException>(() => new LookupdClient(""));
        Assert.Throws<ArgumentNullException>(() => new LookupdClient((Uri)null!));
        Assert.Throws<ArgumentException>(() => new LookupdClient(new Uri("file:///tmp/x")));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LookupdClient(Base, requestTimeout: TimeSpan.FromSeconds(-1)));

        using var fromHostPort = new LookupdClient("localhost:4161");
        Assert.Equal(new Uri("http://localhost:4161/"), fromHostPort.BaseAddress);
    }

    [Fact]
    public void Producer_addresses_put_ipv6_hosts_in_brackets_except_for_tombstones()
    {
        var producer = new NsqLookupProducer { BroadcastAddress = "::1", TcpPort = 4150, HttpPort = 4151 };

        Assert.Equal("[::1]:4150", producer.TcpAddress);
        Assert.Equal("[::1]:4151", producer.HttpAddress);
        Assert.Equal("::1:4151", producer.TombstoneNode);
    }

    [Fact]
    public async Task Dispose_leaves_an_injected_http_client_usable()
    {
        var handler = FakeHttpHandler.Always("OK");
        var http = new HttpClient(handler);
        new LookupdClient(Base, http).Dispose();

        await new LookupdClient(Base, http).PingAsync(Token);

        Assert.False(handler.Disposed);
    }
}
