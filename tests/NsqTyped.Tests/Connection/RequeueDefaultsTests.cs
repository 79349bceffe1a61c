using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Connection;

/// <summary>A requeue without a backoff argument means the same on a message and on its connection.</summary>
public sealed class RequeueDefaultsTests(NsqTestServers servers)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Connection_and_message_requeues_both_back_off_by_default()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic);
        var requeued = new List<NsqRequeuedEventArgs>();
        consumer.Connection.Requeued += (_, e) => { lock (requeued) { requeued.Add(e); } };

        await producer.PublishAsync(topic, "twice"u8.ToArray(), Ct);
        var first = await consumer.NextAsync();
        await first.RequeueAsync(cancellationToken: Ct);
        var second = await consumer.NextAsync();
        await consumer.Connection.RequeueAsync(second.Id, TimeSpan.Zero, cancellationToken: Ct);
        var third = await consumer.NextAsync();
        await third.FinishAsync(Ct);

        Assert.Equal(3, third.Attempts);
        lock (requeued)
        {
            Assert.Equal([(first.Id, true), (second.Id, true)], requeued.Select(e => (e.MessageId, e.Backoff)));
        }
    }
}
