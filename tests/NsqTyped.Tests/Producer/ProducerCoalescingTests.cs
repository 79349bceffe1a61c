using System.Text;
using NsqTyped.Tests.Connection;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Producer;

/// <summary>
/// The producer with coalescing and its bound on outstanding publishes: delivery and order through a real
/// (or embedded) nsqd, failover of never-sent batches, the per-producer switch, waiting for room.
/// </summary>
public sealed class ProducerCoalescingTests(NsqTestServers servers)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static NsqProducerOptions Fast => NsqProducerTests.Fast;

    [Fact]
    public async Task Many_outstanding_single_publishes_are_all_delivered_in_publish_order()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = new NsqProducer(servers.NsqdTcpAddress, Fast);
        await producer.ConnectAsync(Ct);

        // 500 outstanding at a time, like a busy web server: most go out coalesced into MPUBs.
        const int Count = 3000;
        var window = new Task[500];
        for (var i = 0; i < Count; i++)
        {
            var slot = i % window.Length;
            if (window[slot] is { } previous)
            {
                await previous.WaitAsync(TimeSpan.FromSeconds(20), Ct);
            }

            window[slot] = producer.PublishAsync(topic, Encoding.ASCII.GetBytes(i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture)), Ct).AsTask();
        }

        await Task.WhenAll(window).WaitAsync(TimeSpan.FromSeconds(20), Ct);

        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic, ready: 2500);
        for (var i = 0; i < Count; i++)
        {
            var message = await consumer.NextAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture), Encoding.ASCII.GetString(message.Body.Span));
            await message.FinishAsync(Ct);
        }
    }

    [Fact]
    public async Task A_batch_that_was_never_sent_fails_over_to_the_next_connection()
    {
        await using var server = new ScriptedServer();
        await using var producer = new NsqProducer(server.Address, Fast);
        var connecting = producer.ConnectAsync(Ct).AsTask();
        var first = await AcceptHandshakeAsync(server);
        await connecting.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        var sent = await PublishCoalescingTests.FillAsync(producer, first, "failover.topic");
        var waiting = Enumerable.Range(1, 3).Select(i => producer.PublishAsync("failover.topic", Encoding.ASCII.GetBytes($"w{i}"), Ct).AsTask()).ToArray();
        await first.DisposeAsync();

        // The written PUB may have been stored: it fails. The waiting ones were never written: they move on.
        foreach (var written in sent)
        {
            await Assert.ThrowsAnyAsync<NsqConnectionException>(() => written.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        }

        await using var second = await AcceptHandshakeAsync(server);
        var received = new List<string>();
        while (received.Count < 3)
        {
            var command = await WireCommand.ReadAsync(second);
            received.AddRange(command.Messages);
            await second.WriteAsync(PublishCoalescingTests.Frame(0, "OK"), Ct);
        }

        await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal(["w1", "w2", "w3"], received.Order());
    }

    [Fact]
    public async Task Coalescing_can_be_switched_off_per_producer()
    {
        await using var server = new ScriptedServer();
        await using var producer = new NsqProducer(server.Address, Fast with { CoalescePublishes = false });
        var connecting = producer.ConnectAsync(Ct).AsTask();
        await using var stream = await AcceptHandshakeAsync(server);
        await connecting.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        var publishes = Enumerable.Range(0, 3).Select(i => producer.PublishAsync("nocoalesce", Encoding.ASCII.GetBytes($"p{i}"), Ct).AsTask()).ToArray();
        for (var i = 0; i < 3; i++)
        {
            var command = await WireCommand.ReadAsync(stream);
            Assert.Equal("PUB nocoalesce", command.Line);
            Assert.Equal([$"p{i}"], command.Messages);
        }

        for (var i = 0; i < 3; i++)
        {
            await stream.WriteAsync(PublishCoalescingTests.Frame(0, "OK"), Ct);
        }

        await Task.WhenAll(publishes).WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task With_a_linger_window_even_the_first_publishes_wait_and_go_out_together()
    {
        await using var server = new ScriptedServer();
        await using var producer = new NsqProducer(server.Address, Fast with { PublishLinger = TimeSpan.FromMilliseconds(200) });
        var connecting = producer.ConnectAsync(Ct).AsTask();
        await using var stream = await AcceptHandshakeAsync(server);
        await connecting.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        var publishes = Enumerable.Range(0, 3).Select(i => producer.PublishAsync("linger", Encoding.ASCII.GetBytes($"l{i}"), Ct).AsTask()).ToArray();
        var command = await WireCommand.ReadAsync(stream);

        Assert.Equal("MPUB linger", command.Line);
        Assert.Equal(["l0", "l1", "l2"], command.Messages);
        await stream.WriteAsync(PublishCoalescingTests.Frame(0, "OK"), Ct);
        await Task.WhenAll(publishes).WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public void Options_out_of_range_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NsqProducer("127.0.0.1:4150", NsqProducerOptions.Default with { PublishLinger = TimeSpan.FromMilliseconds(-1) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NsqProducer("127.0.0.1:4150", NsqProducerOptions.Default with { MaxOutstandingPublishes = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NsqProducer("127.0.0.1:4150", NsqProducerOptions.Default with { MaxOutstandingBytes = 0 }));
    }

    [Fact]
    public async Task A_full_producer_makes_the_next_publish_wait_and_honours_its_token()
    {
        await using var server = new ScriptedServer();
        var options = Fast with { MaxOutstandingPublishes = 2, CoalescePublishes = false };
        await using var producer = new NsqProducer(server.Address, options);
        var connecting = producer.ConnectAsync(Ct).AsTask();
        await using var stream = await AcceptHandshakeAsync(server);
        await connecting.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        var p1 = producer.PublishAsync("bounded", "p1"u8.ToArray(), Ct).AsTask();
        var p2 = producer.PublishAsync("bounded", "p2"u8.ToArray(), Ct).AsTask();
        using var cancel = new CancellationTokenSource();
        var canceled = producer.PublishAsync("bounded", "canceled"u8.ToArray(), cancel.Token).AsTask();
        var p3 = producer.PublishAsync("bounded", "p3"u8.ToArray(), Ct).AsTask();
        Assert.Equal(["p1"], (await WireCommand.ReadAsync(stream)).Messages);
        Assert.Equal(["p2"], (await WireCommand.ReadAsync(stream)).Messages);
        Assert.Equal(2, producer.OutstandingPublishes);
        Assert.False(canceled.IsCompleted);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.False(p3.IsCompleted);

        // One answer makes room: p3 (not the canceled one) is written next.
        await stream.WriteAsync(PublishCoalescingTests.Frame(0, "OK"), Ct);
        Assert.Equal(["p3"], (await WireCommand.ReadAsync(stream)).Messages);
        await stream.WriteAsync(PublishCoalescingTests.Frame(0, "OK"), Ct);
        await stream.WriteAsync(PublishCoalescingTests.Frame(0, "OK"), Ct);
        await Task.WhenAll(p1, p2, p3).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal(0, producer.OutstandingPublishes);
    }

    internal static async Task<System.Net.Sockets.NetworkStream> AcceptHandshakeAsync(ScriptedServer server)
    {
        var stream = await server.AcceptAsync();
        using (await ScriptedServer.ReadMagicAndIdentifyAsync(stream))
        {
            await stream.WriteAsync(ConformanceFixtures.ServerBytes("identify_feature_negotiation", 3), Ct);
        }

        return stream;
    }
}
