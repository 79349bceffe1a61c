using System.Text;

namespace NsqTyped.Testing.Tests.Lookupd;

/// <summary>An embedded nsqd registering with an embedded nsqlookupd (the real nsqd→nsqlookupd protocol).</summary>
public sealed class NsqdRegistrationTests
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false });

    [Fact]
    public async Task Nsqd_registers_its_topics_and_channels_as_in_the_lookupd_registry_fixture()
    {
        await using var lookupd = await EmbeddedNsqlookupd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var nsqd = await EmbeddedNsqd.StartAsync(
            new EmbeddedNsqdOptions { LookupdTcpAddresses = [lookupd.TcpAddress], Hostname = "nsqd-host" },
            TestContext.Current.CancellationToken);

        await PostAsync(nsqd, "/topic/create?topic=conf.lk");
        await PostAsync(nsqd, "/channel/create?topic=conf.lk&channel=ch1");
        await Eventually.AssertAsync(
            async () => (await LookupdHttp.GetAsync(lookupd, "/channels?topic=conf.lk")).Body == """{"channels":["ch1"]}""",
            "lookupd lists channel ch1");

        var producer = Assert.Single(await LookupdHttp.LookupProducersAsync(lookupd, "conf.lk"));
        Assert.Equal(
            ["remote_address", "hostname", "broadcast_address", "tcp_port", "http_port", "version"],
            producer.EnumerateObject().Select(p => p.Name));
        Assert.Equal("nsqd-host", producer.GetProperty("hostname").GetString());
        Assert.Equal("127.0.0.1", producer.GetProperty("broadcast_address").GetString());
        Assert.Equal(nsqd.TcpEndPoint.Port, producer.GetProperty("tcp_port").GetInt32());
        Assert.Equal(nsqd.HttpEndPoint.Port, producer.GetProperty("http_port").GetInt32());
        Assert.Equal("1.3.0", producer.GetProperty("version").GetString());

        // Deleting the channel on nsqd removes the producer, not the channel registration.
        await PostAsync(nsqd, "/topic/create?topic=conf.lk2");
        await Eventually.AssertAsync(async () => (await LookupdHttp.LookupProducersAsync(lookupd, "conf.lk2")).Count == 1, "conf.lk2 registered");
        await PostAsync(nsqd, "/topic/delete?topic=conf.lk2");
        await Eventually.AssertAsync(async () => (await LookupdHttp.LookupProducersAsync(lookupd, "conf.lk2")).Count == 0, "conf.lk2 unregistered");

        Assert.Equal((200, """{"channels":[],"producers":[]}"""), await LookupdHttp.GetAsync(lookupd, "/lookup?topic=conf.lk2"));
        Assert.Equal(["conf.lk", "conf.lk2"], (await LookupdHttp.StringArrayAsync(lookupd, "/topics", "topics")).Order());
        var node = (await LookupdHttp.GetJsonAsync(lookupd, "/nodes")).GetProperty("producers")[0];
        Assert.Equal(["conf.lk"], node.GetProperty("topics").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public async Task Topics_that_exist_before_lookupd_is_configured_are_registered_on_connect()
    {
        await using var lookupd = await EmbeddedNsqlookupd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await PostAsync(nsqd, "/topic/create?topic=conf.early");
        await PostAsync(nsqd, "/channel/create?topic=conf.early&channel=ch1");

        await PutAsync(nsqd, "/config/nsqlookupd_tcp_addresses", $"[\"{lookupd.TcpAddress}\"]");

        await Eventually.AssertAsync(
            async () => (await LookupdHttp.LookupProducersAsync(lookupd, "conf.early")).Count == 1
                && (await LookupdHttp.GetAsync(lookupd, "/channels?topic=conf.early")).Body == """{"channels":["ch1"]}""",
            "the existing topic and channel are registered after PUT /config/nsqlookupd_tcp_addresses");
    }

    [Fact]
    public async Task Stopping_nsqd_removes_it_from_lookupd()
    {
        await using var lookupd = await EmbeddedNsqlookupd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { LookupdTcpAddresses = [lookupd.TcpAddress] }, TestContext.Current.CancellationToken);
        await PostAsync(nsqd, "/topic/create?topic=conf.stop");
        await Eventually.AssertAsync(async () => (await LookupdHttp.LookupProducersAsync(lookupd, "conf.stop")).Count == 1, "registered");

        await nsqd.DisposeAsync();

        await Eventually.AssertAsync(
            async () => (await LookupdHttp.LookupProducersAsync(lookupd, "conf.stop")).Count == 0
                && (await LookupdHttp.GetAsync(lookupd, "/nodes")).Body == """{"producers":[]}""",
            "the stopped nsqd left /lookup and /nodes");
    }

    [Fact]
    public async Task Wait_for_producers_follows_registration_and_unregistration()
    {
        await using var lookupd = await EmbeddedNsqlookupd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { LookupdTcpAddresses = [lookupd.TcpAddress] }, TestContext.Current.CancellationToken);

        await PostAsync(nsqd, "/topic/create?topic=conf.wait");
        await lookupd.WaitForProducersAsync("conf.wait", 1, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Single(await LookupdHttp.LookupProducersAsync(lookupd, "conf.wait"));

        await PostAsync(nsqd, "/topic/delete?topic=conf.wait");
        await lookupd.WaitForProducersAsync("conf.wait", 0, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Empty(await LookupdHttp.LookupProducersAsync(lookupd, "conf.wait"));
    }

    [Fact]
    public async Task Invalid_lookupd_address_is_rejected_before_starting()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => EmbeddedNsqd.StartAsync(
            new EmbeddedNsqdOptions { LookupdTcpAddresses = ["nowhere"] }, TestContext.Current.CancellationToken));
    }

    private static async Task PostAsync(EmbeddedNsqd nsqd, string pathAndQuery)
    {
        using var response = await Http.PostAsync(new Uri($"http://{nsqd.HttpAddress}{pathAndQuery}"), new ByteArrayContent([]), TestContext.Current.CancellationToken);
        Assert.Equal(200, (int)response.StatusCode);
    }

    private static async Task PutAsync(EmbeddedNsqd nsqd, string path, string body)
    {
        using var response = await Http.PutAsync(
            new Uri($"http://{nsqd.HttpAddress}{path}"), new StringContent(body, Encoding.UTF8), TestContext.Current.CancellationToken);
        Assert.Equal(200, (int)response.StatusCode);
    }
}
