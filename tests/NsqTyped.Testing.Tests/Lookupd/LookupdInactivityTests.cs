namespace NsqTyped.Testing.Tests.Lookupd;

/// <summary>Producer inactivity and tombstone expiry, driven by a controllable clock.</summary>
public sealed class LookupdInactivityTests
{
    [Fact]
    public async Task Producer_without_ping_drops_out_of_lookup_and_nodes_until_it_pings_again()
    {
        var clock = new ManualTimeProvider();
        await using var lookupd = await EmbeddedNsqlookupd.StartAsync(
            new EmbeddedNsqlookupdOptions { InactiveProducerTimeout = TimeSpan.FromSeconds(300), TimeProvider = clock },
            TestContext.Current.CancellationToken);
        await using var nsqd = await RawLookupdConnection.ConnectAsync(lookupd.TcpEndPoint);
        await nsqd.IdentifyAsync();
        await nsqd.CommandAsync("REGISTER conf.idle ch1\n");

        clock.Advance(TimeSpan.FromSeconds(299));
        Assert.Single(await LookupdHttp.LookupProducersAsync(lookupd, "conf.idle"));

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal((200, """{"channels":["ch1"],"producers":[]}"""), await LookupdHttp.GetAsync(lookupd, "/lookup?topic=conf.idle"));
        Assert.Equal((200, """{"producers":[]}"""), await LookupdHttp.GetAsync(lookupd, "/nodes"));

        Assert.Equal("OK", await nsqd.CommandAsync("PING\n"));
        Assert.Single(await LookupdHttp.LookupProducersAsync(lookupd, "conf.idle"));
        Assert.Single((await LookupdHttp.GetJsonAsync(lookupd, "/nodes")).GetProperty("producers").EnumerateArray());
    }

    [Fact]
    public async Task Tombstone_expires_after_the_tombstone_lifetime()
    {
        var clock = new ManualTimeProvider();
        await using var lookupd = await EmbeddedNsqlookupd.StartAsync(
            new EmbeddedNsqlookupdOptions { TombstoneLifetime = TimeSpan.FromSeconds(45), TimeProvider = clock },
            TestContext.Current.CancellationToken);
        await using var nsqd = await RawLookupdConnection.ConnectAsync(lookupd.TcpEndPoint);
        await nsqd.IdentifyAsync(RawLookupdConnection.PeerJson(httpPort: 4151));
        await nsqd.CommandAsync("REGISTER conf.ts\n");
        await LookupdHttp.PostAsync(lookupd, "/topic/tombstone?topic=conf.ts&node=127.0.0.1:4151");

        clock.Advance(TimeSpan.FromSeconds(44));
        Assert.Empty(await LookupdHttp.LookupProducersAsync(lookupd, "conf.ts"));

        // Keep the producer active while the tombstone runs out.
        await nsqd.CommandAsync("PING\n");
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Single(await LookupdHttp.LookupProducersAsync(lookupd, "conf.ts"));
        var node = (await LookupdHttp.GetJsonAsync(lookupd, "/nodes")).GetProperty("producers")[0];
        Assert.False(node.GetProperty("tombstones")[0].GetBoolean());
    }

    private sealed class ManualTimeProvider : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.UtcNow;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
