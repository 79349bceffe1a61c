using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using NsqTyped.Testing.Lookupd;

namespace NsqTyped.Testing.Tests.Lookupd;

/// <summary>The nsqd side of registration, against the embedded nsqlookupd.</summary>
public sealed class LookupdRegistrarTests
{
    private static readonly LookupdPeerIdentity Identity = new("127.0.0.1", 4150, 4151, "nsqd-host", "1.3.0");

    [Fact]
    public async Task Speaks_the_nsqlookupd_wire_protocol_byte_for_byte()
    {
        // A scripted lookupd: checks every byte the registrar sends and answers as nsqlookupd would.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var address = "127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port;
        await using var registrar = new LookupdRegistrar(
            Identity, [address], () => [("conf.a", null), ("conf.b", "ch1")], NullLogger.Instance, pingInterval: TimeSpan.FromHours(1));

        using var peer = await listener.AcceptTcpClientAsync(TestContext.Current.CancellationToken);
        var stream = peer.GetStream();
        const string expectedJson = """{"broadcast_address":"127.0.0.1","hostname":"nsqd-host","http_port":4151,"tcp_port":4150,"version":"1.3.0"}""";
        var expectedIdentify = new byte[4 + 9 + 4 + expectedJson.Length];
        "  V1IDENTIFY\n"u8.CopyTo(expectedIdentify);
        BinaryPrimitives.WriteInt32BigEndian(expectedIdentify.AsSpan(13), expectedJson.Length);
        Encoding.ASCII.GetBytes(expectedJson).CopyTo(expectedIdentify, 17);

        Assert.Equal(Convert.ToHexStringLower(expectedIdentify), Convert.ToHexStringLower(await ReadExactlyAsync(stream, expectedIdentify.Length)));
        await RespondAsync(stream, """{"broadcast_address":"lookupd","hostname":"lookupd","http_port":4161,"tcp_port":4160,"version":"1.3.0"}""");
        Assert.Equal("REGISTER conf.a\n", Encoding.ASCII.GetString(await ReadExactlyAsync(stream, 16)));
        await RespondAsync(stream, "OK");
        Assert.Equal("REGISTER conf.b ch1\n", Encoding.ASCII.GetString(await ReadExactlyAsync(stream, 20)));
        await RespondAsync(stream, "OK");

        registrar.ChannelDeleted("conf.b", "ch1");
        Assert.Equal("UNREGISTER conf.b ch1\n", Encoding.ASCII.GetString(await ReadExactlyAsync(stream, 22)));
        await RespondAsync(stream, "OK");
        registrar.TopicDeleted("conf.a");
        Assert.Equal("UNREGISTER conf.a\n", Encoding.ASCII.GetString(await ReadExactlyAsync(stream, 18)));
        await RespondAsync(stream, "OK");
    }

    [Fact]
    public async Task Pings_on_its_interval_and_reconnects_when_lookupd_answers_an_error()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var address = "127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port;
        await using var registrar = new LookupdRegistrar(
            Identity, [address], () => [], NullLogger.Instance, pingInterval: TimeSpan.FromMilliseconds(100), reconnectDelay: TimeSpan.FromMilliseconds(50));

        using (var first = await listener.AcceptTcpClientAsync(TestContext.Current.CancellationToken))
        {
            var stream = first.GetStream();
            var identify = await ReadExactlyAsync(stream, 17);
            await ReadExactlyAsync(stream, BinaryPrimitives.ReadInt32BigEndian(identify.AsSpan(13)));
            await RespondAsync(stream, "{}");
            Assert.Equal("PING\n", Encoding.ASCII.GetString(await ReadExactlyAsync(stream, 5)));
            await RespondAsync(stream, "OK");
            Assert.Equal("PING\n", Encoding.ASCII.GetString(await ReadExactlyAsync(stream, 5)));
            await RespondAsync(stream, "E_INVALID boom");
        }

        // After an error answer nsqlookupd closes the connection; the registrar connects and IDENTIFYs again.
        using var second = await listener.AcceptTcpClientAsync(TestContext.Current.CancellationToken);
        Assert.Equal("  V1IDENTIFY\n", Encoding.ASCII.GetString(await ReadExactlyAsync(second.GetStream(), 13)));
    }

    [Fact]
    public async Task Registers_existing_topics_and_channels_on_connect()
    {
        await using var lookupd = await StartLookupdAsync();
        IReadOnlyList<(string, string?)> state = [("conf.a", null), ("conf.b", "ch1"), ("conf.b", "ch2")];

        await using var registrar = new LookupdRegistrar(Identity, [lookupd.TcpAddress], () => state, NullLogger.Instance);

        await Eventually.AssertAsync(
            async () => (await LookupdHttp.LookupProducersAsync(lookupd, "conf.b")).Count == 1
                && (await LookupdHttp.LookupProducersAsync(lookupd, "conf.a")).Count == 1,
            "both topics have the nsqd as producer");
        Assert.Equal(["ch1", "ch2"], await LookupdHttp.StringArrayAsync(lookupd, "/channels?topic=conf.b", "channels"));
        var producer = (await LookupdHttp.LookupProducersAsync(lookupd, "conf.a"))[0];
        Assert.Equal("nsqd-host", producer.GetProperty("hostname").GetString());
        Assert.Equal("127.0.0.1", producer.GetProperty("broadcast_address").GetString());
        Assert.Equal(4150, producer.GetProperty("tcp_port").GetInt32());
        Assert.Equal(4151, producer.GetProperty("http_port").GetInt32());
        Assert.Equal("1.3.0", producer.GetProperty("version").GetString());
    }

    [Fact]
    public async Task Follows_topic_and_channel_creation_and_deletion()
    {
        await using var lookupd = await StartLookupdAsync();
        await using var registrar = new LookupdRegistrar(Identity, [lookupd.TcpAddress], () => [], NullLogger.Instance);

        registrar.TopicCreated("conf.live");
        registrar.ChannelCreated("conf.live", "ch1");
        await Eventually.AssertAsync(
            async () => (await LookupdHttp.GetAsync(lookupd, "/channels?topic=conf.live")).Body == """{"channels":["ch1"]}"""
                && (await LookupdHttp.LookupProducersAsync(lookupd, "conf.live")).Count == 1,
            "topic and channel are registered");

        registrar.ChannelDeleted("conf.live", "ch1");
        registrar.TopicDeleted("conf.live");
        await Eventually.AssertAsync(
            async () => (await LookupdHttp.LookupProducersAsync(lookupd, "conf.live")).Count == 0,
            "the producer is unregistered");
        var node = (await LookupdHttp.GetJsonAsync(lookupd, "/nodes")).GetProperty("producers")[0];
        Assert.Equal(0, node.GetProperty("topics").GetArrayLength());
    }

    [Fact]
    public async Task Pings_keep_the_producer_active()
    {
        await using var lookupd = await StartLookupdAsync();
        await using var registrar = new LookupdRegistrar(
            Identity, [lookupd.TcpAddress], () => [("conf.alive", null)], NullLogger.Instance, pingInterval: TimeSpan.FromMilliseconds(50));
        await Eventually.AssertAsync(async () => (await LookupdHttp.LookupProducersAsync(lookupd, "conf.alive")).Count == 1, "registered");
        var first = await LastUpdateAsync(lookupd, "topic:conf.alive:");

        await Eventually.AssertAsync(async () => await LastUpdateAsync(lookupd, "topic:conf.alive:") > first, "a PING refreshed last_update");
    }

    [Fact]
    public async Task Reconnects_and_reregisters_after_lookupd_restarts_on_the_same_port()
    {
        var lookupd = await StartLookupdAsync();
        var tcpAddress = lookupd.TcpAddress;
        await using var registrar = new LookupdRegistrar(
            Identity, [tcpAddress], () => [("conf.again", "ch1")], NullLogger.Instance, reconnectDelay: TimeSpan.FromMilliseconds(50));
        await Eventually.AssertAsync(async () => (await LookupdHttp.LookupProducersAsync(lookupd, "conf.again")).Count == 1, "registered");

        await lookupd.DisposeAsync();
        await using var restarted = await EmbeddedNsqlookupd.StartAsync(
            new EmbeddedNsqlookupdOptions { TcpAddress = tcpAddress }, TestContext.Current.CancellationToken);

        // The registrar only notices the loss when it next talks to lookupd (a change or a ping).
        registrar.TopicCreated("conf.poke");
        await Eventually.AssertAsync(
            async () => (await LookupdHttp.LookupProducersAsync(restarted, "conf.again")).Count == 1,
            "the nsqd is registered with the restarted lookupd");
        Assert.Equal(["ch1"], await LookupdHttp.StringArrayAsync(restarted, "/channels?topic=conf.again", "channels"));
    }

    [Fact]
    public async Task A_lost_lookupd_connection_is_made_again_at_the_next_ping_tick_not_at_once()
    {
        // Real nsqd v1.3.0 (nsqd/lookup.go): a closed lookupd connection is noticed when the next PING fails,
        // and connected again at the following tick (or the next REGISTER). Measured against real
        // nsqd + nsqlookupd: a restarted nsqlookupd listed the nsqd again after 27 s (15 s ticks), the embedded
        // nsqd did after 13 s while it re-connected 1 s after the failed PING. Here the tick is 2 s.
        var interval = TimeSpan.FromSeconds(2);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var address = "127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port;
        await using var registrar = new LookupdRegistrar(Identity, [address], () => [], NullLogger.Instance, pingInterval: interval);

        System.Diagnostics.Stopwatch lost;
        using (var first = await listener.AcceptTcpClientAsync(TestContext.Current.CancellationToken))
        {
            var stream = first.GetStream();
            var identify = await ReadExactlyAsync(stream, 17);
            await ReadExactlyAsync(stream, BinaryPrimitives.ReadInt32BigEndian(identify.AsSpan(13)));
            await RespondAsync(stream, "{}");
            lost = System.Diagnostics.Stopwatch.StartNew();
        }

        // The PING one tick later fails; the connection is made again one more tick later.
        using var second = await listener.AcceptTcpClientAsync(TestContext.Current.CancellationToken);
        Assert.Equal("  V1IDENTIFY\n", Encoding.ASCII.GetString(await ReadExactlyAsync(second.GetStream(), 13)));
        Assert.True(lost.Elapsed >= 2 * interval - TimeSpan.FromMilliseconds(250), $"connected again after {lost.Elapsed.TotalMilliseconds:0} ms, before the next tick");
    }

    [Fact]
    public async Task Replacing_the_address_list_moves_the_registration()
    {
        await using var first = await StartLookupdAsync();
        await using var second = await StartLookupdAsync();
        await using var registrar = new LookupdRegistrar(Identity, [first.TcpAddress], () => [("conf.move", null)], NullLogger.Instance);
        await Eventually.AssertAsync(async () => (await LookupdHttp.LookupProducersAsync(first, "conf.move")).Count == 1, "registered with the first");

        registrar.SetAddresses([second.TcpAddress]);

        Assert.Equal([second.TcpAddress], registrar.Addresses);
        await Eventually.AssertAsync(
            async () => (await LookupdHttp.LookupProducersAsync(second, "conf.move")).Count == 1
                && (await LookupdHttp.LookupProducersAsync(first, "conf.move")).Count == 0,
            "registered with the second only");
    }

    [Fact]
    public async Task An_unreachable_lookupd_does_not_hold_up_the_others()
    {
        await using var lookupd = await StartLookupdAsync();
        var closedPort = FreePort();
        await using var registrar = new LookupdRegistrar(
            Identity, ["127.0.0.1:" + closedPort, lookupd.TcpAddress], () => [], NullLogger.Instance, reconnectDelay: TimeSpan.FromMilliseconds(50));

        registrar.TopicCreated("conf.partial");

        await Eventually.AssertAsync(async () => (await LookupdHttp.LookupProducersAsync(lookupd, "conf.partial")).Count == 1, "registered with the live lookupd");
    }

    [Fact]
    public void Invalid_addresses_are_rejected_by_validation()
    {
        Assert.Throws<ArgumentException>(() => LookupdRegistrar.ValidateAddresses(["no-port"], "addresses"));
        Assert.Throws<ArgumentException>(() => LookupdRegistrar.ValidateAddresses(["127.0.0.1:99999"], "addresses"));
        LookupdRegistrar.ValidateAddresses(["127.0.0.1:4160", "[::1]:4160", "localhost:4160"], "addresses");
    }

    [Fact]
    public async Task A_bad_address_set_at_runtime_does_not_stop_the_others()
    {
        await using var lookupd = await StartLookupdAsync();
        await using var registrar = new LookupdRegistrar(Identity, [], () => [("conf.rt", null)], NullLogger.Instance);

        registrar.SetAddresses(["not-an-address", lookupd.TcpAddress]);

        Assert.Equal(["not-an-address", lookupd.TcpAddress], registrar.Addresses);
        await Eventually.AssertAsync(async () => (await LookupdHttp.LookupProducersAsync(lookupd, "conf.rt")).Count == 1, "registered with the valid lookupd");
    }

    private static async Task<byte[]> ReadExactlyAsync(NetworkStream stream, int count)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer, timeout.Token);
        return buffer;
    }

    private static async Task RespondAsync(NetworkStream stream, string response)
    {
        var bytes = new byte[4 + response.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, response.Length);
        Encoding.ASCII.GetBytes(response).CopyTo(bytes, 4);
        await stream.WriteAsync(bytes, TestContext.Current.CancellationToken);
    }

    private static Task<EmbeddedNsqlookupd> StartLookupdAsync() =>
        EmbeddedNsqlookupd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);

    private static async Task<long> LastUpdateAsync(EmbeddedNsqlookupd lookupd, string key) =>
        (await LookupdHttp.GetJsonAsync(lookupd, "/debug")).GetProperty(key)[0].GetProperty("last_update").GetInt64();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
