using System.Diagnostics;
using NsqTyped.Protocol;
using NsqTyped.Testing.Tests.Support;

namespace NsqTyped.Testing.Tests.Tcp;

/// <summary>Topic/channel semantics and delivery rules of the embedded nsqd, over TCP.</summary>
public sealed class NsqdDeliveryTests
{
    private static readonly TimeSpan s_quiet = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task Every_channel_gets_every_message()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var a = await SubscribedAsync(nsqd, "fan", "a", rdy: 10);
        await using var b = await SubscribedAsync(nsqd, "fan", "b", rdy: 10);
        await PublishAsync(nsqd, "fan", "one", "two");

        Assert.Equal(["one", "two"], [(await a.ReadMessageAsync()).Body, (await a.ReadMessageAsync()).Body]);
        Assert.Equal(["one", "two"], [(await b.ReadMessageAsync()).Body, (await b.ReadMessageAsync()).Body]);
    }

    [Fact]
    public async Task Consumers_on_one_channel_compete_for_messages()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var a = await SubscribedAsync(nsqd, "compete", "ch", rdy: 1);
        await using var b = await SubscribedAsync(nsqd, "compete", "ch", rdy: 1);
        await PublishAsync(nsqd, "compete", "one", "two", "three");

        var first = await a.ReadMessageAsync();
        var second = await b.ReadMessageAsync();
        Assert.NotEqual(first.Body, second.Body);
        Assert.Null(await a.TryReadFrameAsync(s_quiet));
        Assert.Null(await b.TryReadFrameAsync(TimeSpan.Zero));
    }

    [Fact]
    public async Task Messages_published_before_any_channel_wait_in_the_topic()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await PublishAsync(nsqd, "early", "waiting");
        Assert.True(nsqd.Broker.TryGetTopic("early", out var topic));
        Assert.Equal(1, topic.Depth);

        await using var consumer = await SubscribedAsync(nsqd, "early", "ch", rdy: 1);
        Assert.Equal("waiting", (await consumer.ReadMessageAsync()).Body);
        Assert.Equal(0, topic.Depth);
    }

    [Fact]
    public async Task Rdy_is_a_window_over_messages_in_flight()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await PublishAsync(nsqd, "window", "1", "2", "3", "4");
        await using var consumer = await SubscribedAsync(nsqd, "window", "ch", rdy: 2);

        var first = await consumer.ReadMessageAsync();
        await consumer.ReadMessageAsync();
        Assert.Null(await consumer.TryReadFrameAsync(s_quiet));

        await consumer.FinishAsync(first.Id);
        Assert.Equal("3", (await consumer.ReadMessageAsync()).Body);
        Assert.Null(await consumer.TryReadFrameAsync(s_quiet));
    }

    [Fact]
    public async Task Ephemeral_channel_and_topic_are_deleted_when_the_last_client_leaves()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var consumer = await SubscribedAsync(nsqd, "gone#ephemeral", "ch#ephemeral", rdy: 1);
        Assert.True(nsqd.Broker.TryGetTopic("gone#ephemeral", out var topic));
        Assert.True(topic.TryGetChannel("ch#ephemeral", out _));

        await consumer.DisposeAsync();

        Assert.True(await Eventually.TrueAsync(() => !topic.TryGetChannel("ch#ephemeral", out _)));
        Assert.True(await Eventually.TrueAsync(() => !nsqd.Broker.TryGetTopic("gone#ephemeral", out _)));
    }

    [Fact]
    public async Task Durable_channel_survives_its_last_client()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var consumer = await SubscribedAsync(nsqd, "stays", "ch", rdy: 1);
        await consumer.DisposeAsync();
        Assert.True(nsqd.Broker.TryGetTopic("stays", out var topic));
        Assert.True(await Eventually.TrueAsync(() => topic.TryGetChannel("ch", out var channel) && channel.Clients.Count == 0));
    }

    [Fact]
    public async Task Paused_channel_delivers_nothing_until_unpaused()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var consumer = await SubscribedAsync(nsqd, "pause", "ch", rdy: 5);
        nsqd.Broker.GetOrCreateTopic("pause").GetOrCreateChannel("ch").Pause();
        await PublishAsync(nsqd, "pause", "held");

        Assert.Null(await consumer.TryReadFrameAsync(s_quiet));
        nsqd.Broker.GetOrCreateTopic("pause").GetOrCreateChannel("ch").Unpause();
        Assert.Equal("held", (await consumer.ReadMessageAsync()).Body);
    }

    [Fact]
    public async Task Paused_topic_holds_messages_back_from_its_channels()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var consumer = await SubscribedAsync(nsqd, "tpause", "ch", rdy: 5);
        var topic = nsqd.Broker.GetOrCreateTopic("tpause");
        topic.Pause();
        await PublishAsync(nsqd, "tpause", "held");

        Assert.Null(await consumer.TryReadFrameAsync(s_quiet));
        Assert.Equal(1, topic.Depth);
        topic.Unpause();
        Assert.Equal("held", (await consumer.ReadMessageAsync()).Body);
    }

    [Fact]
    public async Task Emptied_channel_forgets_queued_and_in_flight_messages()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await PublishAsync(nsqd, "empty", "a", "b");
        await using var consumer = await SubscribedAsync(nsqd, "empty", "ch", rdy: 1);
        var message = await consumer.ReadMessageAsync();
        var channel = nsqd.Broker.GetOrCreateTopic("empty").GetOrCreateChannel("ch");
        Assert.Equal(1, channel.Depth);

        channel.Empty();
        Assert.Equal(0, channel.Depth);
        Assert.Equal(0, channel.InFlightCount);
        await consumer.FinishAsync(message.Id);
        var error = await consumer.ReadFrameAsync();
        Assert.Equal($"E_FIN_FAILED FIN {message.Id} failed ID not in flight", error.Text);
    }

    [Fact]
    public async Task Deleting_a_topic_disconnects_its_consumers()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var consumer = await SubscribedAsync(nsqd, "doomed", "ch", rdy: 1);
        Assert.True(nsqd.Broker.DeleteTopic("doomed"));
        Assert.True(await consumer.WaitClosedAsync(TimeSpan.FromSeconds(5)));
        Assert.False(nsqd.Broker.TryGetTopic("doomed", out _));
    }

    [Fact]
    public async Task Messages_in_flight_to_a_client_that_disconnects_come_back_after_their_timeout()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await PublishAsync(nsqd, "orphan", "payload");
        var first = await SubscribedAsync(nsqd, "orphan", "ch", rdy: 1, new { msg_timeout = 1000 });
        var delivered = await first.ReadMessageAsync();
        var deliveredAt = Stopwatch.GetTimestamp();
        await first.DisposeAsync();

        await using var second = await SubscribedAsync(nsqd, "orphan", "ch", rdy: 1);
        var again = await second.ReadMessageAsync();
        // Measured from when this client read it (nsqd sent it a little earlier): a margin for that, far from the 0 ms of a redelivery on disconnect.
        Assert.True(Stopwatch.GetElapsedTime(deliveredAt) >= TimeSpan.FromMilliseconds(900), "redelivered before the message timeout");
        Assert.Equal(delivered.Id, again.Id);
        Assert.Equal(2, again.Attempts);
    }

    [Fact]
    public async Task Touch_cannot_extend_a_message_past_max_msg_timeout()
    {
        // Three outcomes 1 s apart, so scheduling delays on a loaded machine cannot blur them: TOUCH ignored →
        // redelivered ~3 s after delivery (msg_timeout); capped → ~4 s (max-msg-timeout); not capped → ~5 s (TOUCH at ~2 s + 3 s).
        await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { MaxMsgTimeout = TimeSpan.FromMilliseconds(4000) }, TestContext.Current.CancellationToken);
        await PublishAsync(nsqd, "touchcap", "payload");
        await using var consumer = await SubscribedAsync(nsqd, "touchcap", "ch", rdy: 1, new { msg_timeout = 3000 });
        var message = await consumer.ReadMessageAsync();
        var deliveredAt = Stopwatch.GetTimestamp();

        Assert.Null(await consumer.TryReadFrameAsync(TimeSpan.FromMilliseconds(2000)));
        await consumer.TouchAsync(message.Id);

        var again = await consumer.ReadMessageAsync(TimeSpan.FromSeconds(10));
        var elapsed = Stopwatch.GetElapsedTime(deliveredAt);
        Assert.Equal(2, again.Attempts);
        Assert.InRange(elapsed.TotalMilliseconds, 3500, 4900);
    }

    [Fact]
    public async Task Output_buffer_timeout_delays_messages_while_the_client_stays_ready()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var buffered = await SubscribedAsync(nsqd, "buffered", "ch", rdy: 10, new { output_buffer_timeout = 1000 });
        var start = Stopwatch.GetTimestamp();
        await PublishAsync(nsqd, "buffered", "later");

        await buffered.ReadMessageAsync();
        Assert.True(Stopwatch.GetElapsedTime(start) >= TimeSpan.FromMilliseconds(900), "the message was flushed before the output buffer timeout");
    }

    [Fact]
    public async Task Messages_are_flushed_at_once_when_the_client_becomes_not_ready()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var consumer = await SubscribedAsync(nsqd, "notready", "ch", rdy: 1, new { output_buffer_timeout = 5000 });
        var start = Stopwatch.GetTimestamp();
        await PublishAsync(nsqd, "notready", "now");

        await consumer.ReadMessageAsync();
        Assert.True(Stopwatch.GetElapsedTime(start) < TimeSpan.FromMilliseconds(2500), "a full RDY window must flush without waiting for the timeout");
    }

    [Fact]
    public async Task Sample_rate_drops_a_share_of_the_messages()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var consumer = await SubscribedAsync(nsqd, "sampled", "ch", rdy: 2500, new { sample_rate = 1 });
        await PublishAsync(nsqd, "sampled", [.. Enumerable.Range(0, 300).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))]);

        var received = 0;
        while (await consumer.TryReadFrameAsync(TimeSpan.FromMilliseconds(600)) is not null)
        {
            received++;
        }

        // With sample_rate 1 nsqd keeps a message only when rand(100) <= 1: about 2 %.
        Assert.InRange(received, 0, 40);
        Assert.Equal(0, nsqd.Broker.GetOrCreateTopic("sampled").GetOrCreateChannel("ch").Depth);
    }

    [Fact]
    public async Task Deferred_publish_is_not_delivered_before_its_time()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var consumer = await SubscribedAsync(nsqd, "deferred", "ch", rdy: 1);
        var start = Stopwatch.GetTimestamp();
        nsqd.Broker.GetOrCreateTopic("deferred").PublishDeferred("later"u8.ToArray(), TimeSpan.FromMilliseconds(300));
        Assert.Equal(1, nsqd.Broker.GetOrCreateTopic("deferred").GetOrCreateChannel("ch").DeferredCount);

        var message = await consumer.ReadMessageAsync();
        Assert.Equal("later", message.Body);
        Assert.True(Stopwatch.GetElapsedTime(start) >= TimeSpan.FromMilliseconds(300), "delivered before the deferral ended");
    }

    [Fact]
    public async Task Client_and_channel_counters_follow_deliveries()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await PublishAsync(nsqd, "counted", "a", "b");
        await using var consumer = await SubscribedAsync(nsqd, "counted", "ch", rdy: 2, new { client_id = "counter", hostname = "counter-host", user_agent = "tests/1.0" });
        var a = await consumer.ReadMessageAsync();
        var b = await consumer.ReadMessageAsync();
        await consumer.FinishAsync(a.Id);
        await consumer.SendAsync(w => NsqCommandWriter.WriteReq(w, b.Id, 60_000));

        var channel = nsqd.Broker.GetOrCreateTopic("counted").GetOrCreateChannel("ch");
        Assert.True(await Eventually.TrueAsync(() => channel.RequeueCount == 1));
        var stats = Assert.Single(channel.Clients).GetStats();
        Assert.Equal(("counter", "counter-host", "tests/1.0", "V2"), (stats.ClientId, stats.Hostname, stats.UserAgent, stats.Version));
        Assert.Equal((3, 2L, 0L, 2UL, 1UL, 1UL), (stats.State, stats.ReadyCount, stats.InFlightCount, stats.MessageCount, stats.FinishCount, stats.RequeueCount));
        Assert.Equal((2L, 1L, 0L, 0L), (channel.MessageCount, channel.DeferredCount, channel.InFlightCount, channel.TimeoutCount));
        Assert.Equal((2L, 2L), (nsqd.Broker.GetOrCreateTopic("counted").MessageCount, nsqd.Broker.GetOrCreateTopic("counted").MessageBytes));
    }

    [Fact]
    public async Task Publishers_are_counted_per_topic()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var producer = await RawNsqClient.ConnectAsync(nsqd, new { client_id = "producer" });
        await producer.PublishAsync("p1", "x");
        await producer.ExpectOkAsync();
        await producer.SendAsync(w => NsqCommandWriter.WriteMpub(w, "p2", new ReadOnlyMemory<byte>[] { "a"u8.ToArray(), "b"u8.ToArray() }));
        await producer.ExpectOkAsync();

        var client = Assert.Single(nsqd.Broker.Clients, c => c.ClientId == "producer");
        Assert.True(client.IsProducer);
        Assert.Equal([new("p1", 1UL), new KeyValuePair<string, ulong>("p2", 2UL)], client.GetStats().PubCounts);
    }

    [Fact]
    public async Task Identify_keys_match_case_insensitively_as_in_Go()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var client = await RawNsqClient.ConnectAsync(nsqd);
        await client.SendAsync(w => NsqCommandWriter.WriteIdentify(w, "{\"Client_ID\":\"upper\",\"Feature_Negotiation\":true,\"MSG_TIMEOUT\":5000}"u8));

        var response = NsqIdentifyResponse.Parse(System.Text.Encoding.UTF8.GetBytes((await client.ReadFrameAsync()).Text));
        Assert.Equal(5000, response.MsgTimeout);
        Assert.Equal("upper", Assert.Single(nsqd.Broker.Clients).ClientId);
    }

    [Fact]
    public async Task Max_channel_consumers_refuses_one_consumer_too_many()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { MaxChannelConsumers = 1 }, TestContext.Current.CancellationToken);
        await using var first = await SubscribedAsync(nsqd, "limited", "ch", rdy: 1);
        await using var second = await RawNsqClient.ConnectAsync(nsqd);
        await second.SubscribeAsync("limited", "ch");

        var error = await second.ReadFrameAsync();
        Assert.Equal("E_SUB_FAILED SUB failed consumers for limited:ch exceeds limit of 1", error.Text);
        Assert.True(await second.WaitClosedAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_stopped_server_can_be_started_again_on_the_same_port()
    {
        var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var address = nsqd.TcpAddress;
        await using (var consumer = await SubscribedAsync(nsqd, "restart", "ch", rdy: 1))
        {
            await nsqd.DisposeAsync();
            Assert.True(await consumer.WaitClosedAsync(TimeSpan.FromSeconds(5)));
        }

        // Clients reconnecting to a restarted nsqd is a common test scenario; the port must be reusable at once.
        await using var again = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { TcpAddress = address }, TestContext.Current.CancellationToken);
        await using var client = await SubscribedAsync(again, "restart", "ch", rdy: 1);
        Assert.False(client.IsClosed);
    }

    [Fact]
    public async Task Disposing_the_server_closes_client_connections()
    {
        var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var consumer = await SubscribedAsync(nsqd, "bye", "ch", rdy: 1);
        await nsqd.DisposeAsync();
        Assert.True(await consumer.WaitClosedAsync(TimeSpan.FromSeconds(5)));
    }

    private static async Task<RawNsqClient> SubscribedAsync(EmbeddedNsqd nsqd, string topic, string channel, long rdy, object? identify = null)
    {
        var client = await RawNsqClient.ConnectAsync(nsqd, identify ?? new { client_id = "test" });
        await client.SubscribeAsync(topic, channel);
        await client.ExpectOkAsync();
        await client.ReadyAsync(rdy);
        return client;
    }

    private static async Task PublishAsync(EmbeddedNsqd nsqd, string topic, params string[] bodies)
    {
        await using var producer = await RawNsqClient.ConnectAsync(nsqd);
        foreach (var body in bodies)
        {
            await producer.PublishAsync(topic, body);
        }

        for (var i = 0; i < bodies.Length; i++)
        {
            await producer.ExpectOkAsync();
        }
    }
}
