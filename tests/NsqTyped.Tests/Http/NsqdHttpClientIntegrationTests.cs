using System.Net;
using System.Text;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Http;

/// <summary>
/// <see cref="NsqdHttpClient"/> against the shared test nsqd: the embedded server, or the real nsqd named by
/// <c>NSQD_HTTP_ADDRESS</c>. Every test works on topics of its own.
/// </summary>
public sealed class NsqdHttpClientIntegrationTests(NsqTestServers servers) : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly NsqdHttpClient _nsqd = new(servers.NsqdHttpAddress);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _nsqd.Dispose();

    [Fact]
    public async Task Ping_succeeds_and_info_names_the_servers_ports()
    {
        await _nsqd.PingAsync(Token);
        var info = await _nsqd.InfoAsync(Token);

        Assert.False(string.IsNullOrEmpty(info.Version));
        Assert.Equal(servers.NsqdHttpAddress.Port, info.HttpPort);
        Assert.Equal(int.Parse(servers.NsqdTcpAddress[(servers.NsqdTcpAddress.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture), info.TcpPort);
        Assert.True(info.MaxHeartbeatInterval > TimeSpan.Zero);
        Assert.True(info.StartTime > DateTimeOffset.UnixEpoch);
    }

    [Fact]
    public async Task Published_messages_show_up_as_topic_depth_and_message_count()
    {
        var topic = NsqTestServers.UniqueTopic("http.pub");

        await _nsqd.PublishAsync(topic, "hello"u8.ToArray(), Token);
        await _nsqd.PublishAsync(topic, "world!"u8.ToArray(), Token);

        var stats = await _nsqd.StatsAsync(topic, cancellationToken: Token);
        var topicStats = Assert.Single(stats.Topics);
        Assert.Equal(topic, topicStats.TopicName);
        Assert.Equal(2, topicStats.Depth);
        Assert.Equal(2, topicStats.MessageCount);
        Assert.Equal(11, topicStats.MessageBytes);
        Assert.Equal("OK", stats.Health);
    }

    [Fact]
    public async Task Binary_and_text_batches_publish_every_message()
    {
        var topic = NsqTestServers.UniqueTopic("http.mpub");

        await _nsqd.PublishManyAsync(topic, ["one\nline break"u8.ToArray(), new byte[] { 0, 1, 2 }, "three"u8.ToArray()], Token);
        await _nsqd.PublishManyAsync(topic, ["four"u8.ToArray(), "five"u8.ToArray()], binary: false, Token);

        var topicStats = Assert.Single((await _nsqd.StatsAsync(topic, cancellationToken: Token)).Topics);
        Assert.Equal(5, topicStats.MessageCount);
        Assert.Equal(5, topicStats.Depth);
        Assert.Equal(14 + 3 + 5 + 4 + 4, topicStats.MessageBytes);
    }

    [Fact]
    public async Task Deferred_messages_wait_in_the_channels_deferred_count()
    {
        var topic = NsqTestServers.UniqueTopic("http.defer");
        await _nsqd.CreateTopicAsync(topic, Token);
        await _nsqd.CreateChannelAsync(topic, "ch", Token);

        await _nsqd.PublishAsync(topic, "later"u8.ToArray(), TimeSpan.FromMinutes(10), Token);
        await _nsqd.PublishDeferredAsync(topic, "much later"u8.ToArray(), TimeSpan.FromMinutes(20), Token);

        // nsqd copies topic messages to channels on its own goroutine, so the channel catches up shortly after.
        await NsqTestServers.WaitUntilAsync(async () => (await ChannelAsync(topic, "ch")).DeferredCount == 2, Patience, "deferred_count 2");
        var channel = await ChannelAsync(topic, "ch");
        Assert.Equal(0, channel.Depth);
        Assert.Equal(2, channel.MessageCount);
    }

    [Fact]
    public async Task Pausing_and_unpausing_is_reflected_in_stats()
    {
        var topic = NsqTestServers.UniqueTopic("http.pause");
        await _nsqd.CreateTopicAsync(topic, Token);
        await _nsqd.CreateChannelAsync(topic, "ch", Token);

        await _nsqd.PauseTopicAsync(topic, Token);
        await _nsqd.PauseChannelAsync(topic, "ch", Token);
        var paused = Assert.Single((await _nsqd.StatsAsync(topic, cancellationToken: Token)).Topics);
        Assert.True(paused.Paused);
        Assert.True(paused.FindChannel("ch")!.Paused);

        await _nsqd.UnpauseTopicAsync(topic, Token);
        await _nsqd.UnpauseChannelAsync(topic, "ch", Token);
        var resumed = Assert.Single((await _nsqd.StatsAsync(topic, cancellationToken: Token)).Topics);
        Assert.False(resumed.Paused);
        Assert.False(resumed.FindChannel("ch")!.Paused);
    }

    [Fact]
    public async Task Channels_are_created_and_deleted()
    {
        var topic = NsqTestServers.UniqueTopic("http.channel");
        await _nsqd.CreateTopicAsync(topic, Token);

        await _nsqd.CreateChannelAsync(topic, "ch1", Token);
        await _nsqd.CreateChannelAsync(topic, "ch2", Token);
        var created = Assert.Single((await _nsqd.StatsAsync(topic, cancellationToken: Token)).Topics);
        Assert.Equal(["ch1", "ch2"], created.Channels.Select(c => c.ChannelName).Order());

        await _nsqd.DeleteChannelAsync(topic, "ch1", Token);
        var remaining = Assert.Single((await _nsqd.StatsAsync(topic, cancellationToken: Token)).Topics);
        Assert.Equal(["ch2"], remaining.Channels.Select(c => c.ChannelName));

        var again = await Assert.ThrowsAsync<NsqHttpException>(async () => await _nsqd.DeleteChannelAsync(topic, "ch1", Token));
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Equal("CHANNEL_NOT_FOUND", again.NsqCode);
    }

    [Fact]
    public async Task A_channel_on_an_unknown_topic_is_refused_with_topic_not_found()
    {
        var ex = await Assert.ThrowsAsync<NsqHttpException>(async () =>
            await _nsqd.CreateChannelAsync(NsqTestServers.UniqueTopic("http.none"), "ch", Token));

        Assert.Equal(HttpStatusCode.NotFound, ex.StatusCode);
        Assert.Equal("TOPIC_NOT_FOUND", ex.NsqCode);
    }

    [Fact]
    public async Task Topics_are_deleted_and_a_second_delete_is_topic_not_found()
    {
        var topic = NsqTestServers.UniqueTopic("http.delete");
        await _nsqd.PublishAsync(topic, "x"u8.ToArray(), Token);

        await _nsqd.DeleteTopicAsync(topic, Token);

        Assert.Empty((await _nsqd.StatsAsync(topic, cancellationToken: Token)).Topics);
        var ex = await Assert.ThrowsAsync<NsqHttpException>(async () => await _nsqd.DeleteTopicAsync(topic, Token));
        Assert.Equal("TOPIC_NOT_FOUND", ex.NsqCode);
        Assert.Equal(HttpStatusCode.NotFound, ex.StatusCode);
    }

    [Fact]
    public async Task Emptying_drops_queued_messages_of_topic_and_channel()
    {
        var withChannel = NsqTestServers.UniqueTopic("http.empty.ch");
        await _nsqd.CreateTopicAsync(withChannel, Token);
        await _nsqd.CreateChannelAsync(withChannel, "ch", Token);
        await _nsqd.PublishManyAsync(withChannel, ["a"u8.ToArray(), "b"u8.ToArray()], Token);
        await NsqTestServers.WaitUntilAsync(async () => (await ChannelAsync(withChannel, "ch")).Depth == 2, Patience, "channel depth 2");

        await _nsqd.EmptyChannelAsync(withChannel, "ch", Token);
        Assert.Equal(0, (await ChannelAsync(withChannel, "ch")).Depth);

        var withoutChannel = NsqTestServers.UniqueTopic("http.empty.t");
        await _nsqd.PublishAsync(withoutChannel, "c"u8.ToArray(), Token);
        Assert.Equal(1, Assert.Single((await _nsqd.StatsAsync(withoutChannel, cancellationToken: Token)).Topics).Depth);

        await _nsqd.EmptyTopicAsync(withoutChannel, Token);
        Assert.Equal(0, Assert.Single((await _nsqd.StatsAsync(withoutChannel, cancellationToken: Token)).Topics).Depth);
    }

    [Fact]
    public async Task Stats_filters_and_memory_section_follow_the_arguments()
    {
        var topic = NsqTestServers.UniqueTopic("http.stats");
        await _nsqd.CreateTopicAsync(topic, Token);
        await _nsqd.CreateChannelAsync(topic, "a", Token);
        await _nsqd.CreateChannelAsync(topic, "b", Token);

        var full = await _nsqd.StatsAsync(cancellationToken: Token);
        var lean = await _nsqd.StatsAsync(topic, "b", includeClients: false, includeMemory: false, Token);
        var unknown = await _nsqd.StatsAsync(NsqTestServers.UniqueTopic("http.nosuch"), includeMemory: false, cancellationToken: Token);

        Assert.NotNull(full.Memory);
        Assert.NotNull(full.FindTopic(topic));
        Assert.Null(lean.Memory);
        Assert.Equal(["b"], Assert.Single(lean.Topics).Channels.Select(c => c.ChannelName));
        Assert.Empty(unknown.Topics);
    }

    [Fact]
    public async Task A_message_above_the_servers_limit_is_refused_with_msg_too_big()
    {
        // The client's own limit is raised so the request reaches nsqd, whose default --max-msg-size is 1 MiB.
        using var lenient = new NsqdHttpClient(servers.NsqdHttpAddress, options: new NsqdHttpClientOptions { MaxMessageSize = 2 * 1024 * 1024 });

        var ex = await Assert.ThrowsAsync<NsqHttpException>(async () =>
            await lenient.PublishAsync(NsqTestServers.UniqueTopic("http.big"), new byte[(1024 * 1024) + 1], Token));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, ex.StatusCode);
        Assert.Equal("MSG_TOO_BIG", ex.NsqCode);
    }

    [Fact]
    public async Task Lookupd_addresses_can_be_read_and_written_back()
    {
        var current = await _nsqd.GetLookupdTcpAddressesAsync(Token);

        // Writing the same list back leaves the shared server's registrations untouched.
        var written = await _nsqd.SetLookupdTcpAddressesAsync(current, Token);
        var generic = await _nsqd.GetConfigAsync("nsqlookupd_tcp_addresses", Token);

        Assert.Equal(current, written);
        Assert.Equal(current, generic.EnumerateArray().Select(e => e.GetString()!).ToArray());
    }

    [Fact]
    public async Task A_config_value_can_be_set_and_the_new_value_is_returned()
    {
        // nsqd reports log_level as a number but accepts it by name; writing the current level back changes nothing.
        string[] names = ["", "debug", "info", "warn", "error", "fatal"];
        var level = (await _nsqd.GetConfigAsync("log_level", Token)).GetInt32();
        Assert.InRange(level, 1, names.Length - 1);

        var written = await _nsqd.SetConfigAsync("log_level", names[level], Token);

        Assert.Equal(level, written.GetInt32());
    }

    [Fact]
    public async Task An_invalid_config_value_is_refused_with_invalid_value()
    {
        var ex = await Assert.ThrowsAsync<NsqHttpException>(async () => await _nsqd.SetConfigAsync("nsqlookupd_tcp_addresses", "not json", Token));

        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
        Assert.Equal("INVALID_VALUE", ex.NsqCode);
    }

    [Fact]
    public async Task An_unknown_config_option_is_refused_with_invalid_option()
    {
        var ex = await Assert.ThrowsAsync<NsqHttpException>(async () => await _nsqd.GetConfigAsync("nosuch", Token));

        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
        Assert.Equal("INVALID_OPTION", ex.NsqCode);
    }

    [Fact]
    public async Task Invalid_arguments_never_reach_the_server()
    {
        var topic = NsqTestServers.UniqueTopic("http.invalid");

        await Assert.ThrowsAsync<ArgumentException>(async () => await _nsqd.PublishAsync(topic, ReadOnlyMemory<byte>.Empty, Token));
        await Assert.ThrowsAsync<ArgumentException>(async () => await _nsqd.PublishManyAsync(topic, [Encoding.UTF8.GetBytes("a\nb")], binary: false, Token));
        await Assert.ThrowsAsync<ArgumentException>(async () => await _nsqd.PublishAsync(topic, new byte[(1024 * 1024) + 1], Token));

        Assert.Empty((await _nsqd.StatsAsync(topic, cancellationToken: Token)).Topics);
    }

    private async Task<NsqdChannelStats> ChannelAsync(string topic, string channel)
    {
        var stats = await _nsqd.StatsAsync(topic, channel, includeClients: false, includeMemory: false, Token);
        return stats.FindTopic(topic)?.FindChannel(channel) ?? throw new Xunit.Sdk.XunitException($"{topic}/{channel} is not in /stats.");
    }
}
