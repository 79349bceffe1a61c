using System.Net;
using System.Text;

namespace NsqTyped.Testing.Tests.Lookupd;

/// <summary>The nsqlookupd TCP protocol (V1) at byte level, over raw sockets.</summary>
public sealed class LookupdTcpProtocolTests : IAsyncLifetime
{
    private EmbeddedNsqlookupd _lookupd = null!;

    public async ValueTask InitializeAsync() =>
        _lookupd = await EmbeddedNsqlookupd.StartAsync(new EmbeddedNsqlookupdOptions { BroadcastAddress = "lookupd.test" }, TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync() => await _lookupd.DisposeAsync();

    [Fact]
    public void Listeners_bind_free_loopback_ports()
    {
        Assert.Equal(IPAddress.Loopback, _lookupd.TcpEndPoint.Address);
        Assert.NotEqual(0, _lookupd.TcpEndPoint.Port);
        Assert.NotEqual(0, _lookupd.HttpEndPoint.Port);
        Assert.Equal("127.0.0.1:" + _lookupd.TcpEndPoint.Port, _lookupd.TcpAddress);
        Assert.Equal("127.0.0.1:" + _lookupd.HttpEndPoint.Port, _lookupd.HttpAddress);
    }

    [Fact]
    public async Task Taken_ports_fail_the_start()
    {
        await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(() => EmbeddedNsqlookupd.StartAsync(
            new EmbeddedNsqlookupdOptions { TcpAddress = _lookupd.TcpAddress }, TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<IOException>(() => EmbeddedNsqlookupd.StartAsync(
            new EmbeddedNsqlookupdOptions { HttpAddress = _lookupd.HttpAddress }, TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("no-port", "127.0.0.1:0")]
    [InlineData("127.0.0.1:0", "127.0.0.1:70000")]
    public async Task Malformed_addresses_are_rejected_before_binding(string tcp, string http)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => EmbeddedNsqlookupd.StartAsync(
            new EmbeddedNsqlookupdOptions { TcpAddress = tcp, HttpAddress = http }, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Bad_magic_is_answered_with_E_BAD_PROTOCOL_and_closed()
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint, sendMagic: false);
        await connection.SendAsync("  V2"u8.ToArray());

        var frame = await connection.ReadRawResponseAsync();

        Assert.Equal("0000000e" + Convert.ToHexStringLower("E_BAD_PROTOCOL"u8), Convert.ToHexStringLower(frame));
        Assert.True(await connection.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Ping_before_identify_is_answered_OK_without_frame_type()
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);
        await connection.SendAsync("PING\n");

        var frame = await connection.ReadRawResponseAsync();

        Assert.Equal("000000024f4b", Convert.ToHexStringLower(frame));
    }

    [Fact]
    public async Task Identify_answers_lookupd_info_as_sorted_json()
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);

        var response = await connection.IdentifyAsync();

        var expected = $$"""{"broadcast_address":"lookupd.test","hostname":"{{Dns.GetHostName()}}","http_port":{{_lookupd.HttpEndPoint.Port}},"tcp_port":{{_lookupd.TcpEndPoint.Port}},"version":"1.3.0"}""";
        Assert.Equal(expected, response);
    }

    [Fact]
    public async Task Identify_twice_is_a_fatal_E_INVALID()
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);
        await connection.IdentifyAsync();

        Assert.Equal("E_INVALID cannot IDENTIFY again", await connection.IdentifyAsync());
        Assert.True(await connection.IsClosedByServerAsync());
    }

    [Theory]
    [InlineData("""{"broadcast_address":"127.0.0.1","tcp_port":4150,"http_port":4151}""", "E_BAD_BODY IDENTIFY missing fields")]
    [InlineData("""{"broadcast_address":"","tcp_port":4150,"http_port":4151,"version":"1.3.0"}""", "E_BAD_BODY IDENTIFY missing fields")]
    [InlineData("""{"broadcast_address":"127.0.0.1","tcp_port":"4150","http_port":4151,"version":"1.3.0"}""", "E_BAD_BODY IDENTIFY failed to decode JSON body")]
    [InlineData("""{"broadcast_address":"127.0.0.1","tcp_port":4150.5,"http_port":4151,"version":"1.3.0"}""", "E_BAD_BODY IDENTIFY failed to decode JSON body")]
    [InlineData("not json", "E_BAD_BODY IDENTIFY failed to decode JSON body")]
    [InlineData("[]", "E_BAD_BODY IDENTIFY failed to decode JSON body")]
    [InlineData("null", "E_BAD_BODY IDENTIFY missing fields")]
    public async Task Invalid_identify_body_is_a_fatal_E_BAD_BODY(string json, string expected)
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);

        Assert.Equal(expected, await connection.IdentifyAsync(json));
        Assert.True(await connection.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Identify_keys_match_case_insensitively_like_go()
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);

        var response = await connection.IdentifyAsync("""{"BROADCAST_ADDRESS":"10.0.0.1","Tcp_Port":4150,"http_port":4151,"version":"1.3.0","extra":[1]}""");
        Assert.StartsWith("{\"broadcast_address\":", response);
        Assert.Equal("OK", await connection.CommandAsync("REGISTER conf.case\n"));

        var producer = Assert.Single(await LookupdHttp.LookupProducersAsync(_lookupd, "conf.case"));
        Assert.Equal("10.0.0.1", producer.GetProperty("broadcast_address").GetString());
    }

    [Theory]
    [InlineData("REGISTER conf.t\n")]
    [InlineData("UNREGISTER conf.t\n")]
    public async Task Register_before_identify_is_a_fatal_E_INVALID(string command)
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);

        Assert.Equal("E_INVALID client must IDENTIFY", await connection.CommandAsync(command));
        Assert.True(await connection.IsClosedByServerAsync());
    }

    [Theory]
    [InlineData("REGISTER\n", "E_INVALID REGISTER insufficient number of params")]
    [InlineData("UNREGISTER \n", "E_INVALID UNREGISTER insufficient number of params")]
    [InlineData("REGISTER bad!topic\n", "E_BAD_TOPIC REGISTER topic name 'bad!topic' is not valid")]
    [InlineData("REGISTER  conf.t\n", "E_BAD_TOPIC REGISTER topic name '' is not valid")]
    [InlineData("UNREGISTER conf.t bad/ch\n", "E_BAD_CHANNEL UNREGISTER channel name 'bad/ch' is not valid")]
    [InlineData("SUB conf.t ch\n", "E_INVALID invalid command SUB")]
    [InlineData("\n", "E_INVALID invalid command ")]
    public async Task Malformed_commands_are_fatal_errors(string command, string expected)
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);
        await connection.IdentifyAsync();

        Assert.Equal(expected, await connection.CommandAsync(command));
        Assert.True(await connection.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Pipelined_commands_are_answered_in_order()
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);
        var bytes = RawLookupdConnection.Identify(RawLookupdConnection.PeerJson())
            .Concat(Encoding.ASCII.GetBytes("REGISTER conf.pipe ch1\r\nPING\nUNREGISTER conf.pipe ch1\nNOPE\n"))
            .ToArray();

        // One write, split in the middle of the IDENTIFY body, to exercise partial reads.
        await connection.SendAsync(bytes[..20]);
        await connection.SendAsync(bytes[20..]);

        Assert.StartsWith("{", await connection.ReadResponseAsync());
        Assert.Equal("OK", await connection.ReadResponseAsync());
        Assert.Equal("OK", await connection.ReadResponseAsync());
        Assert.Equal("OK", await connection.ReadResponseAsync());
        Assert.Equal("E_INVALID invalid command NOPE", await connection.ReadResponseAsync());
        Assert.True(await connection.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Register_makes_the_producer_visible_in_lookup_with_its_remote_address()
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);
        await connection.IdentifyAsync(RawLookupdConnection.PeerJson(tcpPort: 5150, httpPort: 5151));

        Assert.Equal("OK", await connection.CommandAsync("REGISTER conf.reg ch1\n"));

        var (status, body) = await LookupdHttp.GetAsync(_lookupd, "/lookup?topic=conf.reg");
        Assert.Equal(200, status);
        Assert.Equal(
            $$"""{"channels":["ch1"],"producers":[{"remote_address":"{{connection.LocalAddress}}","hostname":"test-host","broadcast_address":"127.0.0.1","tcp_port":5150,"http_port":5151,"version":"1.3.0"}]}""",
            body);
    }

    [Fact]
    public async Task Unregister_of_a_channel_keeps_the_channel_but_an_ephemeral_one_vanishes()
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);
        await connection.IdentifyAsync();
        await connection.CommandAsync("REGISTER conf.unreg ch1\n");
        await connection.CommandAsync("REGISTER conf.unreg ch2#ephemeral\n");

        Assert.Equal("OK", await connection.CommandAsync("UNREGISTER conf.unreg ch1\n"));
        Assert.Equal("OK", await connection.CommandAsync("UNREGISTER conf.unreg ch2#ephemeral\n"));

        Assert.Equal(["ch1"], await LookupdHttp.StringArrayAsync(_lookupd, "/channels?topic=conf.unreg", "channels"));
        Assert.Single(await LookupdHttp.LookupProducersAsync(_lookupd, "conf.unreg"));
    }

    [Fact]
    public async Task Unregister_of_a_topic_removes_the_producer_but_keeps_the_topic()
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);
        await connection.IdentifyAsync();
        await connection.CommandAsync("REGISTER conf.unreg2 ch1\n");
        await connection.CommandAsync("REGISTER conf.gone#ephemeral\n");

        Assert.Equal("OK", await connection.CommandAsync("UNREGISTER conf.unreg2\n"));
        Assert.Equal("OK", await connection.CommandAsync("UNREGISTER conf.gone#ephemeral\n"));

        Assert.Equal("""{"channels":["ch1"],"producers":[]}""", (await LookupdHttp.GetAsync(_lookupd, "/lookup?topic=conf.unreg2")).Body);
        Assert.Equal(["conf.unreg2"], await LookupdHttp.StringArrayAsync(_lookupd, "/topics", "topics"));
    }

    [Fact]
    public async Task Disconnect_removes_the_producer_from_every_registration()
    {
        var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);
        await connection.IdentifyAsync();
        await connection.CommandAsync("REGISTER conf.bye ch1\n");
        Assert.Single(await LookupdHttp.LookupProducersAsync(_lookupd, "conf.bye"));

        await connection.DisposeAsync();

        await Eventually.AssertAsync(
            async () => (await LookupdHttp.LookupProducersAsync(_lookupd, "conf.bye")).Count == 0
                && (await LookupdHttp.GetJsonAsync(_lookupd, "/nodes")).GetProperty("producers").GetArrayLength() == 0,
            "the producer is gone from /lookup and /nodes");
        Assert.Equal(["ch1"], await LookupdHttp.StringArrayAsync(_lookupd, "/channels?topic=conf.bye", "channels"));
    }

    [Fact]
    public async Task Ping_after_identify_refreshes_the_producer()
    {
        await using var connection = await RawLookupdConnection.ConnectAsync(_lookupd.TcpEndPoint);
        await connection.IdentifyAsync();
        await connection.CommandAsync("REGISTER conf.ping\n");
        var before = (await LookupdHttp.GetJsonAsync(_lookupd, "/debug")).GetProperty("topic:conf.ping:")[0].GetProperty("last_update").GetInt64();

        await Eventually.AssertAsync(
            async () =>
            {
                Assert.Equal("OK", await connection.CommandAsync("PING\n"));
                var after = (await LookupdHttp.GetJsonAsync(_lookupd, "/debug")).GetProperty("topic:conf.ping:")[0].GetProperty("last_update").GetInt64();
                return after > before;
            },
            "PING moved last_update forward");
    }
}
