using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Lookup;

/// <summary>
/// What a consumer that discovers nsqd through nsqlookupd lives through when nsqlookupd restarts, shown against
/// the embedded servers and (when the run uses real servers) real nsqd + nsqlookupd processes.
/// </summary>
public sealed class LookupdRestartRegistrationTests(NsqTestServers servers)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_restarted_nsqlookupd_knows_no_producer_until_nsqd_registers_again_at_a_later_ping()
    {
        // nsqd v1.3.0 notices the lost lookupd connection when its next 15 s PING fails and connects again at
        // the tick after that: /lookup has no producer for 15–30 s (real nsqd measured: 27 s), the gap a
        // Reader must keep consuming through.
        await using var cluster = await servers.StartClusterAsync(1, cancellationToken: Ct);
        var topic = NsqTestServers.UniqueTopic("lkrestart");
        await using (var producer = new NsqProducer(cluster.NsqdTcpAddresses[0]))
        {
            await producer.PublishAsync(topic, "x"u8.ToArray(), Ct);
        }

        await cluster.WaitForProducersAsync(topic, 1, cancellationToken: Ct);

        await cluster.RestartLookupdAsync(Ct);

        using var lookupd = new LookupdClient(cluster.LookupdHttpAddress);
        Assert.Empty((await lookupd.LookupAsync(topic, Ct)).Producers);
        await cluster.WaitForProducersAsync(topic, 1, TimeSpan.FromSeconds(45), Ct);
    }
}
