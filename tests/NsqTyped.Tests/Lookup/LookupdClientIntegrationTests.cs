using System.Net;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Lookup;

/// <summary>
/// <see cref="LookupdClient"/> against an nsqlookupd with one nsqd registered (embedded cluster, or the real servers
/// named by the environment). Registration travels asynchronously from nsqd to nsqlookupd, so tests that depend on
/// it wait for the condition with a timeout.
/// </summary>
public sealed class LookupdClientIntegrationTests : IClassFixture<LookupdTestEnvironment>, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly LookupdClient _lookupd;
    private readonly NsqdHttpClient _nsqd;

    public LookupdClientIntegrationTests(LookupdTestEnvironment environment)
    {
        Assert.SkipWhen(environment.LookupdHttpAddress is null, $"Real servers are configured without {NsqTestServers.LookupdHttpAddressVariable}.");
        _lookupd = new LookupdClient(environment.LookupdHttpAddress!);
        _nsqd = new NsqdHttpClient(environment.NsqdHttpAddress);
    }

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        _lookupd.Dispose();
        _nsqd.Dispose();
    }

    [Fact]
    public async Task Ping_and_info_answer()
    {
        await _lookupd.PingAsync(Token);
        var info = await _lookupd.InfoAsync(Token);

        Assert.False(string.IsNullOrEmpty(info.Version));
    }

    [Fact]
    public async Task Lookup_of_an_unknown_topic_is_empty()
    {
        var result = await _lookupd.LookupAsync(NsqTestServers.UniqueTopic("lk.unknown"), Token);

        Assert.Empty(result.Producers);
        Assert.Empty(result.Channels);
    }

    [Fact]
    public async Task Lookup_after_a_publish_lists_the_nsqd_as_producer_with_its_channels()
    {
        var topic = NsqTestServers.UniqueTopic("lk.pub");
        var info = await _nsqd.InfoAsync(Token);

        await _nsqd.PublishAsync(topic, "hello"u8.ToArray(), Token);
        await _nsqd.CreateChannelAsync(topic, "ch1", Token);

        NsqLookupResult result = NsqLookupResult.Empty;
        await NsqTestServers.WaitUntilAsync(
            async () =>
            {
                result = await _lookupd.LookupAsync(topic, Token);
                return FindOurs(result.Producers, info) is not null && result.Channels.Contains("ch1");
            },
            Patience,
            "nsqlookupd lists the nsqd and channel ch1");

        var producer = FindOurs(result.Producers, info)!;
        Assert.Equal(info.TcpPort, producer.TcpPort);
        Assert.Equal(info.HttpPort, producer.HttpPort);
        Assert.Equal(info.Version, producer.Version);
        Assert.Equal(info.Hostname, producer.Hostname);
        Assert.False(string.IsNullOrEmpty(producer.RemoteAddress));
        Assert.Equal($"{info.BroadcastAddress}:{info.TcpPort}", producer.TcpAddress);
    }

    [Fact]
    public async Task Topics_channels_and_nodes_reflect_what_nsqd_registered()
    {
        var topic = NsqTestServers.UniqueTopic("lk.reg");
        var info = await _nsqd.InfoAsync(Token);

        await _nsqd.CreateTopicAsync(topic, Token);
        await _nsqd.CreateChannelAsync(topic, "ch1", Token);

        await NsqTestServers.WaitUntilAsync(async () => (await _lookupd.ChannelsAsync(topic, Token)).Contains("ch1"), Patience, "channel registered");
        Assert.Contains(topic, await _lookupd.TopicsAsync(Token));
        var node = FindOurs(await _lookupd.NodesAsync(Token), info);
        Assert.NotNull(node);
        Assert.Contains(topic, node.Topics);
        Assert.Equal(node.Topics.Count, node.Tombstones.Count);
        Assert.False(node.IsTombstoned(topic));
    }

    [Fact]
    public async Task Topics_and_channels_can_be_registered_and_removed_on_lookupd_alone()
    {
        var topic = NsqTestServers.UniqueTopic("lk.admin");

        await _lookupd.CreateTopicAsync(topic, Token);
        await _lookupd.CreateChannelAsync(topic, "ch1", Token);
        Assert.Contains(topic, await _lookupd.TopicsAsync(Token));
        Assert.Equal(["ch1"], await _lookupd.ChannelsAsync(topic, Token));
        var registered = await _lookupd.LookupAsync(topic, Token);
        Assert.Equal(["ch1"], registered.Channels);
        Assert.Empty(registered.Producers);

        await _lookupd.DeleteChannelAsync(topic, "ch1", Token);
        Assert.Empty(await _lookupd.ChannelsAsync(topic, Token));
        var again = await Assert.ThrowsAsync<NsqHttpException>(async () => await _lookupd.DeleteChannelAsync(topic, "ch1", Token));
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Equal("CHANNEL_NOT_FOUND", again.NsqCode);

        await _lookupd.DeleteTopicAsync(topic, Token);
        Assert.DoesNotContain(topic, await _lookupd.TopicsAsync(Token));
    }

    [Fact]
    public async Task A_tombstoned_producer_leaves_lookup_and_is_marked_in_nodes()
    {
        var topic = NsqTestServers.UniqueTopic("lk.tomb");
        var info = await _nsqd.InfoAsync(Token);
        await _nsqd.CreateTopicAsync(topic, Token);
        NsqLookupProducer? producer = null;
        await NsqTestServers.WaitUntilAsync(
            async () => (producer = FindOurs((await _lookupd.LookupAsync(topic, Token)).Producers, info)) is not null,
            Patience,
            "nsqlookupd lists the nsqd");

        await _lookupd.TombstoneTopicProducerAsync(topic, producer!, Token);

        Assert.Null(FindOurs((await _lookupd.LookupAsync(topic, Token)).Producers, info));
        var node = FindOurs(await _lookupd.NodesAsync(Token), info);
        Assert.NotNull(node);
        Assert.True(node.IsTombstoned(topic));
    }

    [Fact]
    public async Task Tombstoning_with_the_tcp_port_matches_no_producer()
    {
        var topic = NsqTestServers.UniqueTopic("lk.tomb.tcp");
        var info = await _nsqd.InfoAsync(Token);
        await _nsqd.CreateTopicAsync(topic, Token);
        await NsqTestServers.WaitUntilAsync(
            async () => FindOurs((await _lookupd.LookupAsync(topic, Token)).Producers, info) is not null, Patience, "nsqlookupd lists the nsqd");

        await _lookupd.TombstoneTopicProducerAsync(topic, $"{info.BroadcastAddress}:{info.TcpPort}", Token);

        Assert.NotNull(FindOurs((await _lookupd.LookupAsync(topic, Token)).Producers, info));
    }

    private static T? FindOurs<T>(IEnumerable<T> producers, NsqdInfo info)
        where T : NsqLookupProducer =>
        producers.FirstOrDefault(p => p.TcpPort == info.TcpPort && p.HttpPort == info.HttpPort && p.BroadcastAddress == info.BroadcastAddress);
}
