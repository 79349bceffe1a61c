using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using NsqTyped.Protocol;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Typed;

/// <summary>
/// Typed messaging end to end: the generated publish methods over <see cref="NsqProducer"/> to the shared
/// test nsqd, and <see cref="NsqReader"/>s running the generated dispatchers into the handlers above.
/// </summary>
public sealed class TypedEndToEndTests(NsqTestServers servers)
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(15);

    private NsqReaderOptions ReaderOptions => new()
    {
        NsqdTcpAddresses = [servers.NsqdTcpAddress],
        MaxInFlight = 32,
        // A failure backs off for at most this long, so the requeue test does not wait seconds for RDY.
        MaxBackoffDuration = TimeSpan.FromMilliseconds(200),
        RequeueDelay = TimeSpan.Zero,
        ReconnectDelay = TimeSpan.FromMilliseconds(100),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
    };

    [Fact]
    public void Generated_registry_has_one_dispatcher_per_handler_bound_to_its_topic_and_channel()
    {
        var table = NsqTypedHandlers.All
            .Select(d => (d.Topic, d.Channel, d.MessageType, d.HandlerName))
            .OrderBy(d => d.HandlerName, StringComparer.Ordinal)
            .ToList();

        Assert.Equal(
            [
                ("nsqtyped-tests.typed.audit", "audit-log", typeof(AuditLine), "NsqTyped.Tests.Typed.AuditHandlers.OnLineAsync"),
                ("nsqtyped-tests.typed.flaky", "retry", typeof(FlakyJob), "NsqTyped.Tests.Typed.FlakyJobs.RunAsync"),
                ("nsqtyped-tests.typed.invoices", "ledger", typeof(InvoiceIssuedEvent), "NsqTyped.Tests.Typed.InvoiceHandler.OnIssuedAsync"),
                ("nsqtyped-tests.typed.reminders", "remind", typeof(ReminderDue), "NsqTyped.Tests.Typed.Reminders.OnDueAsync"),
                ("nsqtyped-tests.typed.shipments", "billing", typeof(ShipmentDispatched), "NsqTyped.Tests.Typed.ShipmentBilling.OnDispatchedAsync"),
                ("nsqtyped-tests.typed.shipments", "tracking", typeof(ShipmentDispatched), "NsqTyped.Tests.Typed.ShipmentTracking.OnDispatchedAsync"),
            ],
            table);
        Assert.Equal("nsqtyped-tests.typed.invoices", NsqTopics.InvoiceIssuedEvent);
    }

    [Fact]
    public async Task Published_messages_arrive_deserialized_exactly_once_in_each_channels_handler()
    {
        var runId = TypedDeliveries.NewRun();
        var dispatchers = NsqTypedHandlers.All.Where(d => d.Topic is NsqTopics.ShipmentDispatched or NsqTopics.AuditLine).ToList();
        Assert.Equal(3, dispatchers.Count);
        await using var readers = await StartReadersAsync(dispatchers);

        var sent = Enumerable.Range(1, 6).Select(n => new ShipmentDispatched(
            runId, n, n % 2 == 0 ? "DHL" : "UPS", 1.25m * n, new ShippingAddress("Zürich", $"80{n:00}"), new DateTimeOffset(2026, 1, n, 8, 30, 0, TimeSpan.FromHours(1)))).ToList();
        var lines = new[] { $"{runId}|first line", $"{runId}|second line", $"{runId}|third line ünïcødé" };
        await using (var producer = new NsqProducer(servers.NsqdTcpAddress))
        {
            var ct = TestContext.Current.CancellationToken;
            await producer.PublishShipmentDispatchedAsync(sent[0], ct);
            await producer.PublishShipmentDispatchedManyAsync(sent.Skip(1).Take(2).ToList(), ct);
            // A lazy sequence: the batch path that enumerates instead of indexing.
            await producer.PublishShipmentDispatchedManyAsync(sent.Skip(3).Where(_ => true), ct);
            await producer.PublishAuditLineAsync(new AuditLine(lines[0]), ct);
            await producer.PublishAuditLineManyAsync([new AuditLine(lines[1]), new AuditLine(lines[2])], ct);
        }

        await NsqTestServers.WaitUntilAsync(
            () => TypedDeliveries.Of(runId, ShipmentTracking.Name).Count >= 6 && TypedDeliveries.Of(runId, ShipmentBilling.Name).Count >= 6 && TypedDeliveries.Of(runId, AuditHandlers.Name).Count >= 3,
            WaitLimit,
            "every message reaches the handler of every channel");
        await WaitUntilDrainedAsync(dispatchers);

        var tracking = TypedDeliveries.Of(runId, ShipmentTracking.Name);
        Assert.Equal(sent, tracking.Select(d => (ShipmentDispatched)d.Message).OrderBy(s => s.Number));
        Assert.All(tracking, d =>
        {
            Assert.Equal(("nsqtyped-tests.typed.shipments", "tracking", (ushort)1, (bool?)true), (d.Topic, d.Channel, d.Attempts, d.TokenCanBeCanceled));
        });

        var billing = TypedDeliveries.Of(runId, ShipmentBilling.Name);
        Assert.Equal(sent, billing.Select(d => (ShipmentDispatched)d.Message).OrderBy(s => s.Number));
        Assert.All(billing, d => Assert.True(d.TokenCanBeCanceled));

        var audit = TypedDeliveries.Of(runId, AuditHandlers.Name);
        Assert.Equal(lines.Order(StringComparer.Ordinal), audit.Select(d => ((AuditLine)d.Message).Text).Order(StringComparer.Ordinal));
        Assert.All(audit, d => Assert.Equal(("nsqtyped-tests.typed.audit", "audit-log", (ushort)1), (d.Topic, d.Channel, d.Attempts)));
    }

    [Fact]
    public async Task Handlers_registered_with_AddNsqTypedHandlers_get_their_dependencies_from_a_scope_per_message()
    {
        var runId = TypedDeliveries.NewRun();
        var ledger = new InvoiceLedger();
        var services = new ServiceCollection();
        services.AddSingleton(ledger);
        services.AddNsqTypedHandlers();
        // A second call (e.g. from a library and the app) must not register every dispatcher twice.
        services.AddNsqTypedHandlers();
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        var registered = provider.GetServices<INsqHandlerDispatcher>().ToList();
        Assert.Equal(NsqTypedHandlers.All.Count, registered.Count);
        var dispatcher = Assert.Single(registered, d => d.Topic == NsqTopics.InvoiceIssuedEvent);
        await using var readers = await StartReadersAsync([dispatcher], async (message, ct) =>
        {
            await using var scope = provider.CreateAsyncScope();
            await dispatcher.DispatchAsync(message, scope.ServiceProvider, ct);
        });

        var sent = new[] { new InvoiceIssuedEvent(runId, 1, 100m), new InvoiceIssuedEvent(runId, 2, 250.5m), new InvoiceIssuedEvent(runId, 3, 0.01m) };
        await using (var producer = new NsqProducer(servers.NsqdTcpAddress))
        {
            await producer.PublishInvoiceIssuedAsync(sent[0], TestContext.Current.CancellationToken);
            await producer.PublishInvoiceIssuedManyAsync(sent[1..], TestContext.Current.CancellationToken);
        }

        await NsqTestServers.WaitUntilAsync(() => TypedDeliveries.Of(runId).Count >= 3, WaitLimit, "three invoices handled");
        await WaitUntilDrainedAsync([dispatcher]);

        var deliveries = TypedDeliveries.Of(runId);
        Assert.Equal(sent, deliveries.Select(d => (InvoiceIssuedEvent)d.Message).OrderBy(i => i.Number));
        Assert.All(deliveries, d => Assert.Equal((InvoiceHandler.Name, "ledger", (ushort)1), (d.Handler, d.Channel, d.Attempts)));
        Assert.Equal(3, deliveries.Select(d => d.InstanceId).Distinct().Count());
        Assert.Equal(3, ledger.Entries);
    }

    [Fact]
    public async Task Reader_given_a_dispatcher_and_a_provider_resolves_the_instance_handler_from_a_scope_per_message()
    {
        var runId = TypedDeliveries.NewRun();
        var ledger = new InvoiceLedger();

        // ValidateScopes: resolving the scoped handler from the root provider would throw.
        await using var provider = new ServiceCollection().AddSingleton(ledger).AddNsqTypedHandlers()
            .BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        var dispatcher = provider.GetServices<INsqHandlerDispatcher>().Single(d => d.Topic == NsqTopics.InvoiceIssuedEvent);
        await CreateChannelsAsync([dispatcher]);
        var failures = new ConcurrentQueue<Exception>();
        await using var reader = new NsqReader(ReaderOptions, dispatcher, provider);
        reader.HandlerException += (_, e) => failures.Enqueue(e.Error);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        var sent = new[] { new InvoiceIssuedEvent(runId, 7, 70m), new InvoiceIssuedEvent(runId, 8, 80m), new InvoiceIssuedEvent(runId, 9, 90m) };
        await using (var producer = new NsqProducer(servers.NsqdTcpAddress))
        {
            await producer.PublishInvoiceIssuedManyAsync(sent, TestContext.Current.CancellationToken);
        }

        await NsqTestServers.WaitUntilAsync(() => TypedDeliveries.Of(runId).Count >= 3, WaitLimit, "the invoices are handled");
        await WaitUntilDrainedAsync([dispatcher]);
        var deliveries = TypedDeliveries.Of(runId);
        Assert.Equal(sent, deliveries.Select(d => (InvoiceIssuedEvent)d.Message).OrderBy(i => i.Number));
        Assert.Equal(3, deliveries.Select(d => d.InstanceId).Distinct().Count());
        Assert.Equal(3, ledger.Entries);
        Assert.Empty(failures);
    }

    [Fact]
    public async Task Instance_handler_without_provider_factory_or_parameterless_constructor_fails_with_guidance()
    {
        var dispatcher = NsqTypedHandlers.All.Single(d => d.Topic == NsqTopics.InvoiceIssuedEvent);
        var body = Encoding.UTF8.GetBytes("""{"RunId":"x","Number":1,"Amount":1}""");
        var message = new NsqMessage(default(NsqMessageId), 1, 0, body, new UnusedResponder());

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            async () => await dispatcher.DispatchAsync(message, services: null, TestContext.Current.CancellationToken));

        Assert.Contains("AddNsqTypedHandlers", error.Message, StringComparison.Ordinal);
        Assert.Contains("NsqTypedHandlers.Create", error.Message, StringComparison.Ordinal);

        // The same dispatcher type made with a factory needs neither.
        var ledger = new InvoiceLedger();
        var made = NsqTypedHandlers.Create(type => type == typeof(InvoiceHandler) ? new InvoiceHandler(ledger) : throw new InvalidOperationException(type.FullName))
            .Single(d => d.Topic == NsqTopics.InvoiceIssuedEvent);
        await made.DispatchAsync(message, services: null, TestContext.Current.CancellationToken);
        Assert.Equal(1, ledger.Entries);
    }

    [Fact]
    public async Task Message_of_a_throwing_handler_is_requeued_and_redelivered_with_attempts_2()
    {
        var runId = TypedDeliveries.NewRun();
        var dispatcher = NsqTypedHandlers.All.Single(d => d.Topic == NsqTopics.FlakyJob);
        var failures = new ConcurrentQueue<Exception>();
        await using var readers = await StartReadersAsync([dispatcher], configure: r => r.HandlerException += (_, e) => failures.Enqueue(e.Error));

        var job = new FlakyJob(runId, "resize-image-42");
        await using (var producer = new NsqProducer(servers.NsqdTcpAddress))
        {
            await producer.PublishFlakyJobAsync(job, TestContext.Current.CancellationToken);
        }

        await NsqTestServers.WaitUntilAsync(() => TypedDeliveries.Of(runId).Count >= 2, WaitLimit, "handled, failed, requeued, handled again");
        await WaitUntilDrainedAsync([dispatcher]);

        var deliveries = TypedDeliveries.Of(runId);
        Assert.Equal([(ushort)1, (ushort)2], deliveries.Select(d => d.Attempts));
        Assert.All(deliveries, d => Assert.Equal(job, d.Message));
        var failure = Assert.Single(failures);
        Assert.IsType<InvalidOperationException>(failure);
    }

    [Fact]
    public async Task An_undeserializable_body_is_given_up_at_once_without_backoff_or_retries()
    {
        var dispatcher = NsqTypedHandlers.All.Single(d => d.Topic == NsqTopics.FlakyJob);
        var givenUp = new ConcurrentQueue<NsqGivingUpEventArgs>();
        var backoffs = new ConcurrentQueue<NsqBackoffEventArgs>();
        await using var readers = await StartReadersAsync([dispatcher], configure: r =>
        {
            r.GivingUp += (_, e) => givenUp.Enqueue(e);
            r.BackoffChanged += (_, e) => backoffs.Enqueue(e);
        });

        await using (var producer = new NsqProducer(servers.NsqdTcpAddress))
        {
            await producer.PublishAsync(dispatcher.Topic, "{ this is not a job"u8.ToArray(), TestContext.Current.CancellationToken);
        }

        await NsqTestServers.WaitUntilAsync(() => !givenUp.IsEmpty, WaitLimit, "the poison message is given up");
        await WaitUntilDrainedAsync([dispatcher]);
        var e = Assert.Single(givenUp);
        Assert.Equal(1, e.Message.Attempts);
        Assert.IsType<NsqDeserializationException>(e.Reason);
        Assert.Empty(backoffs);
        Assert.Equal(NsqBackoffPhase.Flowing, readers.Readers[0].BackoffPhase);
    }

    [Fact]
    public async Task Deferred_message_arrives_not_before_its_delay()
    {
        var runId = TypedDeliveries.NewRun();
        var dispatcher = NsqTypedHandlers.All.Single(d => d.Topic == NsqTopics.ReminderDue);
        await using var readers = await StartReadersAsync([dispatcher]);
        var delay = TimeSpan.FromMilliseconds(700);

        long published;
        await using (var producer = new NsqProducer(servers.NsqdTcpAddress))
        {
            await producer.ConnectAsync(TestContext.Current.CancellationToken);
            published = Stopwatch.GetTimestamp();
            await producer.PublishReminderDueDeferredAsync(new ReminderDue(runId, 1, "later"), delay, TestContext.Current.CancellationToken);
            await producer.PublishReminderDueAsync(new ReminderDue(runId, 2, "now"), TestContext.Current.CancellationToken);
        }

        await NsqTestServers.WaitUntilAsync(() => TypedDeliveries.Of(runId).Count >= 2, WaitLimit, "both reminders arrive");
        await WaitUntilDrainedAsync([dispatcher]);

        var deliveries = TypedDeliveries.Of(runId);
        Assert.Equal([new ReminderDue(runId, 2, "now"), new ReminderDue(runId, 1, "later")], deliveries.Select(d => d.Message));
        var deferredAfter = Stopwatch.GetElapsedTime(published, deliveries[1].ArrivedAt);
        Assert.True(deferredAfter >= delay, $"The deferred message arrived {deferredAfter.TotalMilliseconds:0} ms after DPUB, before its {delay.TotalMilliseconds:0} ms delay.");
    }

    /// <summary>Creates the channels first: a channel only gets what is published after it exists.</summary>
    private async Task CreateChannelsAsync(IEnumerable<INsqHandlerDispatcher> dispatchers)
    {
        using var http = new NsqdHttpClient(servers.NsqdHttpAddress);
        foreach (var dispatcher in dispatchers)
        {
            // nsqd answers TOPIC_NOT_FOUND to a channel of a topic it does not have yet.
            await http.CreateTopicAsync(dispatcher.Topic, TestContext.Current.CancellationToken);
            await http.CreateChannelAsync(dispatcher.Topic, dispatcher.Channel, TestContext.Current.CancellationToken);
        }
    }

    private async Task<ReaderGroup> StartReadersAsync(
        IReadOnlyList<INsqHandlerDispatcher> dispatchers,
        Func<NsqMessage, CancellationToken, ValueTask>? handler = null,
        Action<NsqReader>? configure = null)
    {
        await CreateChannelsAsync(dispatchers);
        var group = new ReaderGroup();
        foreach (var dispatcher in dispatchers)
        {
            var reader = handler is null
                ? new NsqReader(ReaderOptions, dispatcher)
                : new NsqReader(ReaderOptions with { Topic = dispatcher.Topic, Channel = dispatcher.Channel }, handler);
            configure?.Invoke(reader);
            group.Readers.Add(reader);
            await reader.StartAsync(TestContext.Current.CancellationToken);
        }

        return group;
    }

    /// <summary>Every message was finished: nothing waits, is in flight or deferred, so no redelivery can follow.</summary>
    private async Task WaitUntilDrainedAsync(IEnumerable<INsqHandlerDispatcher> dispatchers)
    {
        using var http = new NsqdHttpClient(servers.NsqdHttpAddress);
        foreach (var dispatcher in dispatchers)
        {
            await NsqTestServers.WaitUntilAsync(
                async () =>
                {
                    var stats = await http.StatsAsync(dispatcher.Topic, dispatcher.Channel, cancellationToken: TestContext.Current.CancellationToken);
                    return stats.FindTopic(dispatcher.Topic)?.FindChannel(dispatcher.Channel) is { Depth: 0, InFlightCount: 0, DeferredCount: 0 };
                },
                WaitLimit,
                $"{dispatcher.Topic}/{dispatcher.Channel} drained");
        }
    }

    private sealed class ReaderGroup : IAsyncDisposable
    {
        public List<NsqReader> Readers { get; } = [];

        public async ValueTask DisposeAsync()
        {
            foreach (var reader in Readers)
            {
                await reader.DisposeAsync();
            }
        }
    }

    private sealed class UnusedResponder : INsqMessageResponder
    {
        public ValueTask FinishAsync(NsqMessage message, CancellationToken cancellationToken) => throw new InvalidOperationException("Not delivered by a connection.");

        public ValueTask RequeueAsync(NsqMessage message, TimeSpan delay, bool backoff, CancellationToken cancellationToken) => throw new InvalidOperationException("Not delivered by a connection.");

        public ValueTask TouchAsync(NsqMessage message, CancellationToken cancellationToken) => throw new InvalidOperationException("Not delivered by a connection.");
    }
}
