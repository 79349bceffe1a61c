using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using NsqTyped.Testing;
using NsqTyped.Tests.Support;

namespace NsqTyped.Hosting.Tests;

[Collection(HandlerTopicsCollection.Name)]
public sealed class HostedConsumerTests(NsqTestServers servers) : IAsyncLifetime
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => new(HandlerTopics.ResetAsync(servers, Token));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Generated_handlers_run_in_the_host_with_a_scope_per_message()
    {
        using var host = HostingTestKit.BuildHost(HostingTestKit.NsqdOnly(servers.NsqdTcpAddress));
        await host.StartAsync(Token);
        var probe = host.Services.GetRequiredService<Probe>();
        var publisher = host.Services.GetRequiredService<INsqPublisher>();

        for (var i = 1; i <= 5; i++)
        {
            await publisher.PublishTestOrderAsync(new TestOrder(i), Token);
        }

        await Eventually.TrueAsync(() => probe.Orders.Count == 5, "the host handled 5 orders");
        await host.StopAsync(Token);

        Assert.Equal([1, 2, 3, 4, 5], probe.Orders.Select(o => o.Number).Order());
        Assert.Equal(5, probe.Orders.Select(o => o.Scope).Distinct().Count());
    }

    [Fact]
    public async Task Host_stop_drains_running_handlers_and_returns_unstarted_messages_to_nsqd()
    {
        var config = HostingTestKit.NsqdOnly(servers.NsqdTcpAddress);
        config["Nsq:Consumers:hosting.jobs/work:MaxInFlight"] = "8";
        config["Nsq:Consumers:hosting.jobs/work:MaxConcurrency"] = "4";
        using var host = HostingTestKit.BuildHost(config, shutdownTimeout: TimeSpan.FromSeconds(20));
        await host.StartAsync(Token);
        var probe = host.Services.GetRequiredService<Probe>();
        var publisher = host.Services.GetRequiredService<INsqPublisher>();
        var all = Enumerable.Range(1, 20).ToArray();
        await publisher.PublishSlowJobManyAsync(all.Select(n => new SlowJob(n)), Token);
        await Eventually.TrueAsync(() => probe.JobsStarted.Count == 4, "4 handlers are running");

        var stopping = host.StopAsync(CancellationToken.None);
        var early = await Task.WhenAny(stopping, Task.Delay(TimeSpan.FromMilliseconds(300), Token));
        Assert.NotSame(stopping, early);
        probe.Release.SetResult();
        await stopping.WaitAsync(TimeSpan.FromSeconds(15), Token);

        Assert.Empty(probe.JobsCancelled);
        Assert.Equal(probe.JobsStarted.Order(), probe.JobsCompleted.Order());
        var handled = probe.JobsCompleted.ToHashSet();

        // Everything the host did not finish is back in nsqd, nothing twice and nothing lost.
        var rest = await DrainRemainingAsync(servers.NsqdTcpAddress, all.Length - handled.Count);
        Assert.Empty(rest.Intersect(handled));
        Assert.Equal(all, handled.Concat(rest).Order());
    }

    [Fact]
    public async Task Host_stop_gives_up_draining_when_the_shutdown_timeout_fires()
    {
        using var host = HostingTestKit.BuildHost(HostingTestKit.NsqdOnly(servers.NsqdTcpAddress), shutdownTimeout: TimeSpan.FromMilliseconds(500));
        await host.StartAsync(Token);
        var probe = host.Services.GetRequiredService<Probe>();
        await host.Services.GetRequiredService<INsqPublisher>().PublishSlowJobAsync(new SlowJob(1), Token);
        await Eventually.TrueAsync(() => probe.JobsStarted.Count == 1, "the handler is running");

        await host.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10), Token);

        // The handler saw its token fire; the unanswered message is nsqd's to redeliver (after its timeout).
        Assert.Equal([1], probe.JobsCancelled);
        Assert.Empty(probe.JobsCompleted);
    }

    [Fact]
    public async Task Health_check_reports_not_started_then_healthy_with_its_connections()
    {
        var config = HostingTestKit.NsqdOnly(servers.NsqdTcpAddress);
        config["Nsq:Producer:ConnectOnStart"] = "true";
        using var host = HostingTestKit.BuildHost(config);
        var health = host.Services.GetRequiredService<HealthCheckService>();

        var before = await health.CheckHealthAsync(Token);
        Assert.Equal(HealthStatus.Unhealthy, before.Entries["nsq"].Status);
        Assert.Contains("not running", before.Entries["nsq"].Description, StringComparison.Ordinal);

        await host.StartAsync(Token);
        try
        {
            var report = await WaitForHealthAsync(health, HealthStatus.Healthy);
            Assert.Equal("1/1", report.Entries["nsq"].Data["producer"]);
            Assert.Equal(1, report.Entries["nsq"].Data["hosting.orders/billing"]);
            Assert.Equal(1, report.Entries["nsq"].Data["hosting.jobs/work"]);
        }
        finally
        {
            await host.StopAsync(Token);
        }
    }

    [Fact]
    public async Task Health_check_reports_unhealthy_when_nsqd_goes_away()
    {
        // Its own nsqd, because the test stops it and the shared one serves the other test classes meanwhile.
        var nsqd = await servers.StartNsqdAsync(cancellationToken: Token);
        try
        {
            var config = HostingTestKit.NsqdOnly(nsqd.TcpAddress);
            config["Nsq:Producer:ConnectOnStart"] = "true";
            using var host = HostingTestKit.BuildHost(config);
            var health = host.Services.GetRequiredService<HealthCheckService>();
            await host.StartAsync(Token);
            var report = await WaitForHealthAsync(health, HealthStatus.Healthy);
            Assert.Equal("1/1", report.Entries["nsq"].Data["producer"]);

            await nsqd.DisposeAsync();
            report = await WaitForHealthAsync(health, HealthStatus.Unhealthy);
            Assert.Contains("no open connection", report.Entries["nsq"].Description, StringComparison.Ordinal);
            await host.StopAsync(Token);
        }
        finally
        {
            await nsqd.DisposeAsync();
        }
    }

    private static async Task<HealthReport> WaitForHealthAsync(HealthCheckService health, HealthStatus status)
    {
        HealthReport? report = null;
        await Eventually.TrueAsync(
            () => (report = health.CheckHealthAsync(Token).GetAwaiter().GetResult()).Entries["nsq"].Status == status,
            "the check reports " + status);
        return report!;
    }

    private static async Task<List<int>> DrainRemainingAsync(string address, int expected)
    {
        var numbers = new List<int>();
        if (expected == 0)
        {
            return numbers;
        }

        await using var reader = new NsqReader(new NsqReaderOptions
        {
            Topic = "hosting.jobs",
            Channel = "work",
            NsqdTcpAddresses = [address],
            MaxInFlight = 50,
        });
        await reader.StartAsync(Token);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        await foreach (var message in reader.ReadAllAsync(timeout.Token))
        {
            numbers.Add(JsonSerializer.Deserialize(message.Body.Span, HostingTestJsonContext.Default.SlowJob)!.Number);
            await message.FinishAsync(Token);
            if (numbers.Count == expected)
            {
                break;
            }
        }

        return numbers;
    }
}
