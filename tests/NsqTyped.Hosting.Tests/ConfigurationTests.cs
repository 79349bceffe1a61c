using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
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
        var options = Bind(new Dictionary<string, string?>
        {
            ["Nsq:LookupdHttpAddresses:0"] = "http://127.0.0.1:4161",
            ["Nsq:NsqdTcpAddresses:0"] = "127.0.0.1:4150",
            ["Nsq:Consumer:MaxInFlight"] = "7",
            ["Nsq:Consumer:MaxTries"] = "9",
            ["Nsq:Consumers:hosting.orders/billing:MaxInFlight"] = "3",
        });
        var orders = NsqTypedHandlers.All.Single(d => d.Topic == "hosting.orders");
        var jobs = NsqTypedHandlers.All.Single(d => d.Topic == "hosting.jobs");

        var connection = NsqTypedOptionsFactory.BuildConnection(options, null, null);
        var forOrders = NsqTypedOptionsFactory.BuildReader(options, orders, connection, null, null);
        var forJobs = NsqTypedOptionsFactory.BuildReader(options, jobs, connection, null, null);

        Assert.Equal(("hosting.orders", "billing", 3, 9), (forOrders.Topic, forOrders.Channel, forOrders.MaxInFlight, forOrders.MaxTries));
        Assert.Equal(("hosting.jobs", "work", 7, 9), (forJobs.Topic, forJobs.Channel, forJobs.MaxInFlight, forJobs.MaxTries));
        Assert.Equal(NsqReaderOptions.Default.MaxBackoffDuration, forJobs.MaxBackoffDuration);

        // With lookupd addresses, consumers discover nsqd instead of connecting directly.
        Assert.Empty(forOrders.NsqdTcpAddresses);
        Assert.Equal(["http://127.0.0.1:4161"], forOrders.LookupdHttpAddresses);
    }

    /// <summary>Options settable in code only (objects, callbacks) or taken from elsewhere (the handler, the root section).</summary>
    private static readonly Dictionary<Type, string[]> NotConfigurationKeys = new()
    {
        [typeof(NsqdConnectionOptions)] = [nameof(NsqdConnectionOptions.Tls), nameof(NsqdConnectionOptions.LoggerFactory)],
        [typeof(NsqProducerOptions)] = [nameof(NsqProducerOptions.Connection)],
        [typeof(NsqReaderOptions)] =
        [
            nameof(NsqReaderOptions.Topic), nameof(NsqReaderOptions.Channel), nameof(NsqReaderOptions.NsqdTcpAddresses),
            nameof(NsqReaderOptions.LookupdHttpAddresses), nameof(NsqReaderOptions.Name), nameof(NsqReaderOptions.ManualFinish),
            nameof(NsqReaderOptions.Connection), nameof(NsqReaderOptions.GivingUpHook), nameof(NsqReaderOptions.DeadLetterPublisher),
            nameof(NsqReaderOptions.LookupdHttpClient), nameof(NsqReaderOptions.LoggerFactory), nameof(NsqReaderOptions.TimeProvider),
        ],
    };

    [Fact]
    public void Every_option_of_the_records_binds_from_the_key_of_its_name()
    {
        // Every settable property of the three records gets a value other than its default, under its own name; an option
        // added to a record without a key (or without a place in NotConfigurationKeys) fails here.
        var config = new Dictionary<string, string?> { ["Nsq:NsqdTcpAddresses:0"] = "127.0.0.1:4150" };
        var expected = new List<(string Section, System.Reflection.PropertyInfo Property, object Value)>();
        foreach (var (section, defaults) in new (string, object)[]
        {
            ("Connection", NsqdConnectionOptions.Default), ("Producer", NsqProducerOptions.Default), ("Consumer", NsqReaderOptions.Default),
        })
        {
            foreach (var property in defaults.GetType().GetProperties().Where(p => p.CanWrite))
            {
                if (NotConfigurationKeys[defaults.GetType()].Contains(property.Name))
                {
                    continue;
                }

                var (text, value) = OtherValue(property.PropertyType, property.GetValue(defaults), property.Name);
                config[$"Nsq:{section}:{property.Name}"] = text;
                expected.Add((section, property, value));
            }
        }

        var options = Bind(config);

        Assert.Empty(options.BindingProblems);
        Assert.Equal(42, expected.Count);
        foreach (var (section, property, value) in expected)
        {
            object record = section switch { "Connection" => options.Connection, "Producer" => options.Producer, _ => options.Consumer };
            Assert.True(Equals(value, property.GetValue(record)), $"Nsq:{section}:{property.Name} bound {property.GetValue(record)}, expected {value}");
        }

        // The hosting-only keys beside them.
        options = Bind(new Dictionary<string, string?>
        {
            ["Nsq:ConsumersEnabled"] = "false",
            ["Nsq:Producer:ConnectOnStart"] = "false",
            ["Nsq:Consumers:hosting.jobs/work:Enabled"] = "false",
            ["Nsq:Connection:Tls:Enabled"] = "true",
            ["Nsq:Connection:Tls:TargetHost"] = "nsqd.internal",
            ["Nsq:Connection:Tls:CheckCertificateRevocation"] = "true",
            ["Nsq:Connection:Tls:EnabledSslProtocols"] = "Tls13",
        });
        Assert.False(options.ConsumersEnabled);
        Assert.False(options.ConnectProducerOnStart);
        Assert.Equal(["hosting.jobs/work"], options.DisabledConsumers);
        Assert.Equal(
            new NsqTlsOptions { TargetHost = "nsqd.internal", CheckCertificateRevocation = true, EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls13 },
            options.Connection.Tls);
    }

    [Fact]
    public void Unreadable_values_are_binding_problems_with_their_keys()
    {
        var options = Bind(new Dictionary<string, string?>
        {
            ["Nsq:Consumer:MaxInFlight"] = "lots",
            ["Nsq:Connection:HeartbeatInterval"] = "5 seconds",
            ["Nsq:Producer:DisconnectedPolicy"] = "Wait",
            ["Nsq:Connection:Tls:Enabled"] = "true",
            ["Nsq:Connection:Tls:TrustedCaCertificatePath"] = "/no/such/ca.pem",
        });

        Assert.Equal(
            [
                "Nsq:Connection:HeartbeatInterval: '5 seconds' is not a duration such as \"00:00:05\" or \"00:00:00.250\".",
                "Nsq:Connection:Tls:TrustedCaCertificatePath: cannot read the certificate file",
                "Nsq:Producer:DisconnectedPolicy: 'Wait' is not one of WaitForConnection, FailFast.",
                "Nsq:Consumer:MaxInFlight: 'lots' is not a whole number.",
            ],
            options.BindingProblems.Select(p => p.StartsWith("Nsq:Connection:Tls:", StringComparison.Ordinal) ? p[..p.IndexOf("file", StringComparison.Ordinal)] + "file" : p));
        Assert.Equal(NsqReaderOptions.Default.MaxInFlight, options.Consumer.MaxInFlight);
    }

    [Fact]
    public void Dead_letter_topic_comes_from_the_handler_entry_then_the_attribute_then_the_consumer_defaults()
    {
        var options = Bind(new Dictionary<string, string?>
        {
            ["Nsq:NsqdTcpAddresses:0"] = "127.0.0.1:4150",
            ["Nsq:Consumer:DeadLetterTopic"] = "all.dead",
            ["Nsq:Consumer:MaxRequeueDelay"] = "00:02:00",
            ["Nsq:Consumers:hosting.poison/configured:DeadLetterTopic"] = "configured.dead",
        });
        var connection = NsqTypedOptionsFactory.BuildConnection(options, null, null);
        NsqReaderOptions For(string topic, string channel) =>
            NsqTypedOptionsFactory.BuildReader(options, NsqTypedHandlers.All.Single(d => d.Topic == topic && d.Channel == channel), connection, null, null);

        Assert.Equal("configured.dead", For("hosting.poison", "configured").DeadLetterTopic);
        Assert.Equal(PoisonHandler.AttributeDeadLetterTopic, For("hosting.poison", "attribute").DeadLetterTopic);
        Assert.Equal("all.dead", For("hosting.orders", "billing").DeadLetterTopic);
        Assert.Equal(TimeSpan.FromMinutes(2), For("hosting.poison", "configured").MaxRequeueDelay);
    }

    private static NsqTypedOptions Bind(IDictionary<string, string?> values)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var options = new NsqTypedOptions();
        NsqConfigurationBinder.Bind(configuration.GetSection(NsqTypedOptions.SectionName), options);
        return options;
    }

    /// <summary>A configuration string for <paramref name="type"/> and the value it must bind to, different from <paramref name="current"/>.</summary>
    private static (string Text, object Value) OtherValue(Type type, object? current, string name)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        return underlying switch
        {
            _ when underlying == typeof(string) => ("value." + name.ToLowerInvariant(), "value." + name.ToLowerInvariant()),
            _ when underlying == typeof(int) => Pair((int)(current ?? 0) + 3),
            _ when underlying == typeof(long) => Pair((long)current! + 3),
            _ when underlying == typeof(double) => Pair((double)current! + 0.25),
            _ when underlying == typeof(bool) => (!(bool)current! ? "true" : "false", !(bool)current!),
            _ when underlying == typeof(TimeSpan) => (((TimeSpan)(current ?? TimeSpan.Zero) + TimeSpan.FromMilliseconds(1234)).ToString("c", CultureInfo.InvariantCulture), (TimeSpan)(current ?? TimeSpan.Zero) + TimeSpan.FromMilliseconds(1234)),
            _ when underlying.IsEnum => Enum.GetValues(underlying).Cast<object>().First(v => !v.Equals(current)) is var other ? (other.ToString()!, other) : default,
            _ => throw new InvalidOperationException($"{name} has type {type}: give it a configuration rule in the binder and here, or list it in NotConfigurationKeys."),
        };

        static (string, object) Pair(IFormattable value) => (value.ToString(null, CultureInfo.InvariantCulture), value);
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
    public async Task Host_start_reports_every_problem_at_once_one_short_line_each_and_logs_them()
    {
        var config = new Dictionary<string, string?>
        {
            ["Nsq:NsqdTcpAddresses:0"] = "127.0.0.1:4150",
            ["Nsq:Consumer:MaxInFlight"] = "0",
            ["Nsq:Consumer:MaxTries"] = "-1",
            ["Nsq:Consumer:LookupdPollJitter"] = "2",
            ["Nsq:Consumer:RequeueDelay"] = "soon",
        };
        var logs = new CapturingLoggerProvider();
        using var host = HostingTestKit.BuildHost(config, services => services.AddLogging(b => b.AddProvider(logs)));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        // Four problems, four lines: the record's own Validate() found the three ranges at once, and a problem every
        // handler shares is one line naming them all.
        Assert.Equal(4, error.Failures.Count());
        Assert.Equal("Nsq:Consumer:RequeueDelay: 'soon' is not a duration such as \"00:00:05\" or \"00:00:00.250\".", error.Failures.First());
        foreach (var key in new[] { "MaxTries", "MaxInFlight", "LookupdPollJitter" })
        {
            var line = Assert.Single(error.Failures, f => f.StartsWith($"Nsq:Consumer:{key}: ", StringComparison.Ordinal));
            Assert.DoesNotContain('\n', line);
            Assert.All(NsqTypedHandlers.All, d => Assert.Contains($"{d.HandlerName} on {d.Topic}/{d.Channel}", line, StringComparison.Ordinal));
        }

        var logged = Assert.Single(logs.Entries, e => e.EventId == 3009);
        Assert.Equal(LogLevel.Critical, logged.Level);
        Assert.All(error.Failures, f => Assert.Contains("  - " + f, logged.Message, StringComparison.Ordinal));
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
            .AddNsqTyped(o => o.Consumer = o.Consumer with { MaxTries = 2 })
            .ConfigureConsumer((d, o) => d.Topic == "hosting.jobs" ? o with { MaxInFlight = 11 } : o));

        await host.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var running = host.Services.GetRequiredService<NsqTypedConsumers>().Running;
            Assert.Equal(NsqTypedHandlers.All.Count, running.Count);
            Assert.Equal((4, 2), running.Single(c => c.Dispatcher.Topic == "hosting.orders").Reader.Options is var o1 ? (o1.MaxInFlight, o1.MaxTries) : default);
            Assert.Equal((11, 2), running.Single(c => c.Dispatcher.Topic == "hosting.jobs").Reader.Options is var o2 ? (o2.MaxInFlight, o2.MaxTries) : default);
        }
        finally
        {
            await host.StopAsync(TestContext.Current.CancellationToken);
        }
    }
}
