using System.Collections.Concurrent;
using NsqTyped.Testing;
using NsqTyped.Tests.Support;
using static NsqTyped.Tests.Reader.ReaderTestKit;

namespace NsqTyped.Tests.Faults;

/// <summary>
/// Topology changes under a Reader that discovers nsqd through lookupd (mission map §4): a producer that
/// vanishes from lookupd keeps its live connection; an ended connection comes back only if lookupd lists
/// it again; a dropped discovered connection makes the Reader ask lookupd at once. Each test starts a
/// cluster of its own (3 nsqd + nsqlookupd: real processes when the run uses real servers, embedded ones
/// otherwise) and stops, restarts and deletes on it. The Reader's lookupd requests go through a
/// <see cref="LookupdHttpGate"/> (its <see cref="NsqReaderOptions.LookupdHttpClient"/>), which counts and
/// holds them on the client side, so it works with either lookupd.
/// </summary>
public sealed class ReaderTopologyTests(NsqTestServers servers)
{
    private readonly string _topic = NsqTestServers.UniqueTopic("topo");
    private readonly string _channel = NsqTestServers.UniqueChannel("ch");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_lookupd_restarted_mid_stream_that_answers_empty_causes_no_gap_in_consumption()
    {
        await using var cluster = await StartClusterAsync();
        await PublishToAllAsync(cluster, 1, "before");
        await cluster.WaitForProducersAsync(_topic, 3, cancellationToken: Token);
        using var gate = new LookupdHttpGate();
        using var http = new HttpClient(gate);
        var handled = new ConcurrentDictionary<string, int>();
        var removed = 0;
        await using var reader = new NsqReader(Fast(_topic, _channel) with { LookupdHttpAddresses = [cluster.LookupdHttpAddress], LookupdHttpClient = http, MaxInFlight = 30 }, (m, _) =>
        {
            handled.AddOrUpdate(Text(m), 1, (_, n) => n + 1);
            return ValueTask.CompletedTask;
        });
        reader.SessionRemoved += _ => Interlocked.Increment(ref removed);
        await reader.StartAsync(Token);
        await WaitUntilAsync(() => reader.Connections.Count == 3 && handled.Count == 3, "all three producers connected and consumed");

        // The restart: the old process goes (polls fail), the new one answers on the same HTTP port before any
        // nsqd has registered with it ("topic not found": no producers at all). nsqd registers again only at a
        // ping 15-30 s later, long after this test ends.
        await cluster.StopLookupdAsync(Token);
        var failedBefore = gate.Failed;
        await WaitUntilAsync(() => gate.Failed > failedBefore, "a poll hit the stopped lookupd");
        await cluster.RestartLookupdAsync(Token);
        var answeredBefore = gate.Answered;
        await WaitUntilAsync(() => gate.Answered >= answeredBefore + 5, "several empty answers from the restarted lookupd");
        using var lookupd = new LookupdClient(cluster.LookupdHttpAddress);
        Assert.Empty((await lookupd.LookupAsync(_topic, Token)).Producers);

        await PublishToAllAsync(cluster, 10, "during");
        await WaitUntilAsync(() => handled.Count == 33, "every message published while lookupd lists nothing consumed");
        Assert.Equal(3, reader.Connections.Count);
        Assert.Equal(0, Volatile.Read(ref removed));
    }

    [Fact]
    public async Task A_tombstoned_producer_keeps_consuming_and_once_its_connection_ends_is_not_reconnected()
    {
        await using var cluster = await StartClusterAsync();
        using var gate = new LookupdHttpGate();
        using var http = new HttpClient(gate);
        var handled = new ConcurrentQueue<string>();
        await using var reader = await StartReaderAsync(cluster, handled, Fast(_topic, _channel) with { LookupdHttpAddresses = [cluster.LookupdHttpAddress], LookupdHttpClient = http, MaxInFlight = 10 });

        using var lookupd = new LookupdClient(cluster.LookupdHttpAddress);
        var producer = (await lookupd.LookupAsync(_topic, Token)).Producers.Single(p => p.TcpPort == PortOf(cluster.NsqdTcpAddresses[1]));
        await lookupd.TombstoneTopicProducerAsync(_topic, producer, Token);
        await WaitForPollsAsync(gate, 3);

        await PublishAsync(cluster.NsqdTcpAddresses[1], _topic, 5, "tombstoned");
        await WaitUntilAsync(() => handled.Count(b => b.StartsWith("tombstoned", StringComparison.Ordinal)) == 5, "the tombstoned producer still consumed");
        Assert.Equal(3, reader.Connections.Count);

        // The connection ends (here: from the client side); lookupd does not list it, so it stays down.
        await reader.Connections.Single(c => IsTo(c, cluster.NsqdTcpAddresses[1])).Connection.DisposeAsync();
        await WaitUntilAsync(() => reader.Connections.Count == 2, "the ended connection is gone");
        await WaitUntilAsync(async () => (await ChannelStatsAsync(cluster.NsqdHttpAddresses[1], _topic, _channel))!.ClientCount == 0, "nsqd 1 no longer lists the ended connection");
        await WaitForPollsAsync(gate, 5);
        Assert.Equal(2, reader.Connections.Count);
        Assert.DoesNotContain(reader.Connections, c => IsTo(c, cluster.NsqdTcpAddresses[1]));
        Assert.Equal(0, (await ChannelStatsAsync(cluster.NsqdHttpAddresses[1], _topic, _channel))!.ClientCount);
    }

    [Fact]
    public async Task A_topic_deleted_on_one_nsqd_of_three_is_not_recreated_by_a_reconnect()
    {
        await using var cluster = await StartClusterAsync();
        using var gate = new LookupdHttpGate();
        using var http = new HttpClient(gate);
        var handled = new ConcurrentQueue<string>();
        await using var reader = await StartReaderAsync(cluster, handled, Fast(_topic, _channel) with { LookupdHttpAddresses = [cluster.LookupdHttpAddress], LookupdHttpClient = http, MaxInFlight = 10 });

        // nsqd closes its clients before lookupd has processed the unregistration: hold the Reader's
        // lookups until lookupd no longer lists nsqd 1, so the test does not depend on that race.
        gate.Close();
        using var nsqd1 = new NsqdHttpClient(cluster.NsqdHttpAddresses[1]);
        await nsqd1.DeleteTopicAsync(_topic, Token);
        await WaitUntilAsync(() => reader.Connections.Count == 2, "nsqd 1 closed the connection of the deleted topic");
        await cluster.WaitForProducersAsync(_topic, 2, cancellationToken: Token);
        gate.Open();

        await WaitForPollsAsync(gate, 5);
        Assert.Equal(2, reader.Connections.Count);
        Assert.Null((await nsqd1.StatsAsync(_topic, cancellationToken: Token)).FindTopic(_topic));

        await PublishAsync(cluster.NsqdTcpAddresses[0], _topic, 3, "left");
        await PublishAsync(cluster.NsqdTcpAddresses[2], _topic, 3, "right");
        await WaitUntilAsync(() => handled.Count == 9, "the two other producers still consumed");
    }

    [Fact]
    public async Task A_dropped_discovered_connection_asks_lookupd_at_once_and_reconnects_to_the_restarted_nsqd()
    {
        await using var cluster = await StartClusterAsync();
        using var gate = new LookupdHttpGate();
        using var http = new HttpClient(gate);
        var handled = new ConcurrentQueue<string>();

        // No poll is due for a minute: only the dropped connection can make the Reader ask lookupd.
        var options = Fast(_topic, _channel) with
        {
            LookupdHttpAddresses = [cluster.LookupdHttpAddress],
            LookupdHttpClient = http,
            LookupdPollInterval = TimeSpan.FromSeconds(60),
            LookupdPollJitter = 0,
            MaxInFlight = 10,
        };
        await using var reader = await StartReaderAsync(cluster, handled, options);
        await WaitUntilAsync(() => gate.Answered >= 2, "first lookup and first poll done");

        gate.Close();
        var requestsBefore = gate.Requests;
        await cluster.StopNsqdAsync(2, Token);
        await WaitUntilAsync(() => gate.Requests > requestsBefore, "the drop made the Reader ask lookupd");
        Assert.Equal(2, reader.Connections.Count);

        await cluster.RestartNsqdAsync(2, Token);
        await PublishAsync(cluster.NsqdTcpAddresses[2], _topic, 4, "back");
        await cluster.WaitForProducersAsync(_topic, 3, cancellationToken: Token);
        gate.Open();

        await WaitUntilAsync(() => reader.Connections.Count == 3, "reconnected to the restarted nsqd well before the next poll");
        await WaitUntilAsync(() => handled.Count(b => b.StartsWith("back", StringComparison.Ordinal)) == 4, "the restarted nsqd's messages consumed");
    }

    private static int PortOf(string address) => int.Parse(address[(address.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    private static bool IsTo(NsqReaderConnection connection, string address) => connection.Address.EndsWith(":" + PortOf(address), StringComparison.Ordinal);

    private static Task WaitForPollsAsync(LookupdHttpGate gate, int polls)
    {
        var target = gate.Answered + polls;
        return WaitUntilAsync(() => gate.Answered >= target, $"{polls} more lookupd answers");
    }

    /// <summary>Publishes one message to each nsqd, then starts a Reader and waits until it consumed all three.</summary>
    private async Task<NsqReader> StartReaderAsync(TestNsqCluster cluster, ConcurrentQueue<string> handled, NsqReaderOptions options)
    {
        await PublishToAllAsync(cluster, 1, "a");
        await cluster.WaitForProducersAsync(_topic, 3, cancellationToken: Token);
        var reader = new NsqReader(options, (m, _) =>
        {
            handled.Enqueue(Text(m));
            return ValueTask.CompletedTask;
        });
        await reader.StartAsync(Token);
        await WaitUntilAsync(() => reader.Connections.Count == 3 && handled.Count == 3, "connected to the three producers");
        return reader;
    }

    private Task<TestNsqCluster> StartClusterAsync() => servers.StartClusterAsync(3, cancellationToken: Token);

    private async Task PublishToAllAsync(TestNsqCluster cluster, int count, string prefix)
    {
        for (var i = 0; i < cluster.NsqdTcpAddresses.Count; i++)
        {
            await PublishAsync(cluster.NsqdTcpAddresses[i], _topic, count, $"{prefix}{i}-");
        }
    }
}
