using System.Net;

namespace NsqTyped.Testing.Tests.Lookupd;

/// <summary>The test-cluster helper: one lookupd, N nsqd registered with it, stop/restart of single nsqd.</summary>
public sealed class EmbeddedNsqClusterTests
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false });

    [Fact]
    public async Task Starts_lookupd_and_nsqds_on_distinct_free_loopback_ports()
    {
        await using var cluster = await EmbeddedNsqCluster.StartAsync(3, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(3, cluster.NsqdCount);
        Assert.Equal(3, cluster.RunningNsqds.Count);
        var addresses = cluster.NsqdTcpAddresses.Concat(cluster.NsqdHttpAddresses).Append(cluster.LookupdTcpAddress).Append(cluster.LookupdHttpAddress).ToList();
        Assert.Equal(addresses.Count, addresses.Distinct().Count());
        Assert.All(addresses, a => Assert.StartsWith("127.0.0.1:", a));
        Assert.All(cluster.RunningNsqds, n => Assert.Equal(IPAddress.Loopback, n.TcpEndPoint.Address));
        Assert.Equal(cluster.NsqdTcpAddresses, cluster.RunningNsqds.Select(n => n.TcpAddress));

        await Eventually.AssertAsync(
            async () => (await LookupdHttp.GetJsonAsync(cluster.Lookupd, "/nodes")).GetProperty("producers").GetArrayLength() == 3,
            "every nsqd identified itself to lookupd");
        var tcpPorts = (await LookupdHttp.GetJsonAsync(cluster.Lookupd, "/nodes")).GetProperty("producers").EnumerateArray()
            .Select(p => "127.0.0.1:" + p.GetProperty("tcp_port").GetInt32());
        Assert.Equal(cluster.NsqdTcpAddresses.Order(), tcpPorts.Order());
    }

    [Fact]
    public async Task Stopped_nsqd_vanishes_from_lookup_and_returns_on_the_same_ports_after_restart()
    {
        await using var cluster = await EmbeddedNsqCluster.StartAsync(2, cancellationToken: TestContext.Current.CancellationToken);
        foreach (var address in cluster.NsqdHttpAddresses)
        {
            await CreateTopicAsync(address, "conf.cluster");
        }

        await cluster.WaitForProducersAsync("conf.cluster", 2, cancellationToken: TestContext.Current.CancellationToken);

        await cluster.StopNsqdAsync(1, TestContext.Current.CancellationToken);

        Assert.False(cluster.IsRunning(1));
        Assert.Throws<InvalidOperationException>(() => cluster.GetNsqd(1));
        await cluster.WaitForProducersAsync("conf.cluster", 1, cancellationToken: TestContext.Current.CancellationToken);
        var remaining = Assert.Single(await LookupdHttp.LookupProducersAsync(cluster.Lookupd, "conf.cluster"));
        Assert.Equal(cluster.GetNsqd(0).TcpEndPoint.Port, remaining.GetProperty("tcp_port").GetInt32());

        var restarted = await cluster.RestartNsqdAsync(1, TestContext.Current.CancellationToken);

        Assert.True(cluster.IsRunning(1));
        Assert.Equal(cluster.NsqdTcpAddresses[1], restarted.TcpAddress);
        Assert.Equal(cluster.NsqdHttpAddresses[1], restarted.HttpAddress);

        // Memory only: the restarted nsqd starts empty and registers what it gets.
        await CreateTopicAsync(restarted.HttpAddress, "conf.cluster");
        await cluster.WaitForProducersAsync("conf.cluster", 2, cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Wait_for_producers_times_out_with_the_count_it_saw()
    {
        await using var cluster = await EmbeddedNsqCluster.StartAsync(1, cancellationToken: TestContext.Current.CancellationToken);

        var ex = await Assert.ThrowsAsync<TimeoutException>(() =>
            cluster.WaitForProducersAsync("conf.none", 1, TimeSpan.FromMilliseconds(100), TestContext.Current.CancellationToken));
        Assert.Contains("0 producers", ex.Message);
    }

    [Fact]
    public async Task Node_count_must_be_positive()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => EmbeddedNsqCluster.StartAsync(0, cancellationToken: TestContext.Current.CancellationToken));
    }

    private static async Task CreateTopicAsync(string nsqdHttpAddress, string topic)
    {
        using var response = await Http.PostAsync(
            new Uri($"http://{nsqdHttpAddress}/topic/create?topic={topic}"), new ByteArrayContent([]), TestContext.Current.CancellationToken);
        Assert.Equal(200, (int)response.StatusCode);
    }
}
