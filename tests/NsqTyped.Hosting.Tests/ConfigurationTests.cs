using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using NsqTyped.Hosting.Internal;
using NsqTyped.Tests.Support;

namespace NsqTyped.Hosting.Tests;

// One test starts the generated handlers' consumers, which would take messages meant for HostedConsumerTests.
[Collection(HandlerTopicsCollection.Name)]
public sealed class ConfigurationTests(NsqTestServers servers)
{
    [Fact]
    public void Nsq_section_binds_every_group_of_settings()
    {
        var config = new Dictionary<string, string?>
        {
            ["Nsq:NsqdTcpAddresses:0"] = "127.0.0.1:4150",
            ["Nsq:NsqdTcpAddresses:1"] = "127.0.0.1:4250",
            ["Nsq:LookupdHttpAddresses:0"] = "http://127.0.0.1:4161",
            ["Nsq:Connection:HeartbeatInterval"] = "00:00:05",
            ["Nsq:Connection:Snappy"] = "true",
            ["Nsq:Connection:ClientId"] = "worker-1",
            ["Nsq:Producer:PublishTimeout"] = "00:00:03",
            ["Nsq:Producer:DisconnectedPolicy"] = "FailFast",
            ["Nsq:Consumer:MaxInFlight"] = "7",
            ["Nsq:Consumer:MaxTries"] = "9",
            ["Nsq:Consumers:hosting.orders/billing:MaxInFlight"] = "3",
            ["Nsq:ConsumersEnabled"] = "false",
        };
        using var host = HostingTestKit.BuildHost(config);

        var options = host.Services.GetRequiredService<IOptions<NsqTypedOptions>>().Value;

        Assert.Equal(["127.0.0.1:4150", "127.0.0.1:4250"], options.NsqdTcpAddresses);
        Assert.Equal(["http://127.0.0.1:4161"], options.LookupdHttpAddresses);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Connection.HeartbeatInterval);
        Assert.True(options.Connection.Snappy);
        Assert.Equal(TimeSpan.FromSeconds(3), options.Producer.PublishTimeout);
        Assert.Equal(NsqDisconnectedPolicy.FailFast, options.Producer.DisconnectedPolicy);
        Assert.Equal(7, options.Consumer.MaxInFlight);
        Assert.Equal(3, options.Consumers["hosting.orders/billing"].MaxInFlight);
        Assert.False(options.ConsumersEnabled);

        var producer = host.Services.GetRequiredService<NsqProducer>();
        Assert.Equal(["127.0.0.1:4150", "127.0.0.1:4250"], producer.Addresses);
        Assert.Equal(TimeSpan.FromSeconds(3), producer.Options.PublishTimeout);
        Assert.Equal(NsqDisconnectedPolicy.FailFast, producer.Options.DisconnectedPolicy);
        Assert.Equal(TimeSpan.FromSeconds(5), producer.Options.Connection.HeartbeatInterval);
        Assert.Equal("worker-1", producer.Options.Connection.ClientId);
        Assert.Same(producer, host.Services.GetRequiredService<INsqPublisher>());
    }

    [Fact]
    public void Consumer_options_layer_override_over_defaults_over_library_defaults()
    {
        var options = new NsqTypedOptions
        {
            LookupdHttpAddresses = ["http://127.0.0.1:4161"],
            NsqdTcpAddresses = ["127.0.0.1:4150"],
            Consumer = new NsqTypedConsumerSettings { MaxInFlight = 7, MaxTries = 9 },
            Consumers = { ["hosting.orders/billing"] = new NsqTypedConsumerSettings { MaxInFlight = 3 } },
        };
        var orders = NsqTypedHandlers.All.Single(d => d.Topic == "hosting.orders");
        var jobs = NsqTypedHandlers.All.Single(d => d.Topic == "hosting.jobs");

        var connection = NsqTypedOptionsFactory.BuildConnection(options, null, null);
        var forOrders = NsqTypedOptionsFactory.BuildReader(options, orders, connection, null, null);
        var forJobs = NsqTypedOptionsFactory.BuildReader(options, jobs, connection, null, null);

        Assert.Equal(("hosting.orders", "billing", 3, 9), (forOrders.Topic, forOrders.Channel, forOrders.MaxInFlight, forOrders.MaxTries));
        Assert.Equal(("hosting.jobs", "work", 7, 9), (forJobs.Topic, forJobs.Channel, forJobs.MaxInFlight, forJobs.MaxTries));
        Assert.Equal(TimeSpan.FromSeconds(128), forJobs.MaxBackoffDuration);

        // With lookupd addresses, consumers discover nsqd instead of connecting directly.
        Assert.Empty(forOrders.NsqdTcpAddresses);
        Assert.Equal(["http://127.0.0.1:4161"], forOrders.LookupdHttpAddresses);
    }

    [Fact]
    public async Task Host_start_fails_with_the_configuration_key_of_each_invalid_value()
    {
        var config = new Dictionary<string, string?>
        {
            ["Nsq:NsqdTcpAddresses:0"] = "127.0.0.1:99999",
            ["Nsq:Connection:SampleRate"] = "150",
            ["Nsq:Producer:ConnectionsPerNode"] = "0",
            ["Nsq:Consumers:no.such.topic/billing:MaxInFlight"] = "3",
            ["Nsq:Consumers:bad name!:MaxInFlight"] = "3",
        };
        using var host = HostingTestKit.BuildHost(config);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains(error.Failures, f => f.StartsWith("Nsq:NsqdTcpAddresses:0:", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Nsq:Connection:SampleRate:", StringComparison.Ordinal) && f.Contains("0 and 99", StringComparison.Ordinal));
        Assert.DoesNotContain(error.Failures, f => f.StartsWith("Nsq:Producer", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Nsq:Consumers:no.such.topic/billing:", StringComparison.Ordinal) && f.Contains("hosting.orders/billing", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Nsq:Consumers:bad name!:", StringComparison.Ordinal) && f.Contains("topic/channel", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Host_start_reports_producer_and_consumer_ranges()
    {
        var config = new Dictionary<string, string?>
        {
            ["Nsq:NsqdTcpAddresses:0"] = "127.0.0.1:4150",
            ["Nsq:Producer:ConnectionsPerNode"] = "0",
            ["Nsq:Consumer:MaxInFlight"] = "0",
            ["Nsq:Consumers:hosting.jobs/work:LookupdPollJitter"] = "2",
        };
        using var host = HostingTestKit.BuildHost(config);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains(error.Failures, f => f.StartsWith("Nsq:Producer:ConnectionsPerNode:", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Nsq:Consumer:MaxInFlight:", StringComparison.Ordinal) && f.Contains("hosting.orders/billing", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Nsq:Consumers:hosting.jobs/work:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Host_start_without_any_address_says_which_keys_to_set()
    {
        using var host = HostingTestKit.BuildHost(new Dictionary<string, string?>());

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        var failure = Assert.Single(error.Failures);
        Assert.Contains("Nsq:NsqdTcpAddresses", failure, StringComparison.Ordinal);
        Assert.Contains("Nsq:LookupdHttpAddresses", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Publisher_without_nsqd_address_explains_what_is_missing()
    {
        using var host = HostingTestKit.BuildHost(new Dictionary<string, string?> { ["Nsq:LookupdHttpAddresses:0"] = "http://127.0.0.1:4161" });

        var error = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<INsqPublisher>());

        Assert.Contains("Nsq:NsqdTcpAddresses", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Code_configuration_applies_after_the_section()
    {
        // Leftover messages would start the slow job handler and hold up the host's stop.
        await HandlerTopics.ResetAsync(servers, TestContext.Current.CancellationToken);
        var config = HostingTestKit.NsqdOnly(servers.NsqdTcpAddress);
        config["Nsq:Consumer:MaxInFlight"] = "4";
        using var host = HostingTestKit.BuildHost(config, services => services
            .AddNsqTyped(o => o.Consumer.MaxTries = 2)
            .ConfigureConsumer((d, o) => d.Topic == "hosting.jobs" ? o with { MaxInFlight = 11 } : o));

        await host.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var running = host.Services.GetRequiredService<NsqTypedConsumers>().Running;
            Assert.Equal(2, running.Count);
            Assert.Equal((4, 2), running.Single(c => c.Dispatcher.Topic == "hosting.orders").Reader.Options is var o1 ? (o1.MaxInFlight, o1.MaxTries) : default);
            Assert.Equal((11, 2), running.Single(c => c.Dispatcher.Topic == "hosting.jobs").Reader.Options is var o2 ? (o2.MaxInFlight, o2.MaxTries) : default);
        }
        finally
        {
            await host.StopAsync(TestContext.Current.CancellationToken);
        }
    }
}
