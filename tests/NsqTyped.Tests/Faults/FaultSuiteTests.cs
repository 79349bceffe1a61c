using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Faults;

/// <summary>
/// Faults injected by a <see cref="FaultProxy"/> between the client and the server (embedded, or real
/// through NSQD_* / NSQLOOKUPD_HTTP_ADDRESS): on producer streams, Reader connections and lookupd HTTP.
/// Each test drives traffic before, during and after the fault and checks the invariants of
/// <see cref="FaultLedger"/>.
/// </summary>
[Collection(FaultSuiteCollection.Name)]
public sealed class FaultSuiteTests(NsqTestServers servers)
{
    // Short bounds so faults are detected in seconds: heartbeats every second (the watchdog declares a silent
    // link dead after two), responses within 2 s, and messages in flight on a dead connection redelivered by
    // nsqd after 3 s (msg_timeout; nsqd does not requeue a vanished client's messages earlier).
    private static readonly NsqdConnectionOptions Connection = NsqdConnectionOptions.Default with
    {
        HeartbeatInterval = TimeSpan.FromSeconds(1),
        MsgTimeout = TimeSpan.FromSeconds(3),
        ReadTimeout = TimeSpan.FromSeconds(2),
        WriteTimeout = TimeSpan.FromSeconds(2),
        ConnectTimeout = TimeSpan.FromSeconds(2),
    };

    private static readonly NsqProducerOptions ProducerOptions = new()
    {
        Connection = Connection,
        PublishTimeout = TimeSpan.FromSeconds(3),
        DisconnectedWaitTimeout = TimeSpan.FromSeconds(2),
        ReconnectBaseDelay = TimeSpan.FromMilliseconds(50),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
    };

    // A publish ends (acknowledged or failed) within its publish timeout; the margin covers a loaded machine.
    private static readonly TimeSpan PublishBound = ProducerOptions.PublishTimeout + TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(30);

    private readonly string _topic = NsqTestServers.UniqueTopic("fault");
    private readonly string _channel = NsqTestServers.UniqueChannel("ch");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("reset")]
    [InlineData("cut-to-server")]
    [InlineData("blackhole")]
    [InlineData("stall-to-client")]
    [InlineData("drip")]
    [InlineData("refuse")]
    public async Task Producer_stream_fault(string fault)
    {
        using var ledger = new FaultLedger();
        await using (var proxy = FaultProxy.Start(servers.NsqdTcpAddress))
        await using (var producer = new NsqProducer([proxy.Address], ProducerOptions))
        {
            await PublishUntilAsync(ledger, producer, () => ledger.Acknowledged >= 30, "publishing flows before the fault");

            Fault.Apply(proxy, fault);
            var during = ledger.Acknowledged + ledger.Failed;
            await PublishUntilAsync(ledger, producer, () => ledger.Acknowledged + ledger.Failed >= during + 8, "publishes end (acknowledged or failed) during the fault");

            proxy.Heal();
            var healed = ledger.Acknowledged;
            await PublishUntilAsync(ledger, producer, () => ledger.Acknowledged >= healed + 30, "publishing recovers after the fault");
        }

        // A Reader straight on the server (no proxy) must find every acknowledged message.
        await ConsumeDirectlyAsync(ledger);
        await ledger.AssertInvariantsAsync();
    }

    [Theory]
    [InlineData("reset")]
    [InlineData("cut-to-client")]
    [InlineData("blackhole")]
    [InlineData("stall-to-client")]
    [InlineData("stall-to-server")]
    [InlineData("delay")]
    public async Task Reader_connection_fault(string fault)
    {
        using var ledger = new FaultLedger();
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        await using var producer = new NsqProducer([servers.NsqdTcpAddress], ProducerOptions);
        for (var i = 0; i < 100; i++)
        {
            await ledger.PublishAsync(producer, _topic, PublishBound);
        }

        var reader = new NsqReader(ReaderOptions() with { NsqdTcpAddresses = [proxy.Address] }, Handle(ledger));
        await reader.StartAsync(Ct);
        await WaitAsync(() => ledger.Handled >= 30, "the Reader consumes before the fault");

        var accepted = proxy.AcceptedCount;
        Fault.Apply(proxy, fault);
        for (var i = 0; i < 100; i++)
        {
            await ledger.PublishAsync(producer, _topic, PublishBound);
        }

        // Give the fault time to bite: a broken link is noticed and redialled, a slow one still delivers.
        await WaitAsync(
            fault is "reset" or "cut-to-client" ? () => proxy.AcceptedCount > accepted
            : fault is "blackhole" or "stall-to-client" or "stall-to-server" ? () => reader.Connections.Count == 0 || proxy.AcceptedCount > accepted
            : () => ledger.Handled >= 130,
            "the fault took effect");

        proxy.Heal();
        await WaitAsync(ledger.AllAcknowledgedHandled, "every message handled after the fault healed");
        await CloseWithinBoundAsync(reader);
        await ledger.AssertInvariantsAsync();
    }

    [Theory]
    [InlineData("blackhole")]
    [InlineData("reset")]
    [InlineData("refuse")]
    [InlineData("drip")]
    public async Task Lookupd_http_fault(string fault)
    {
        var lookupd = servers.LookupdHttpAddressOrSkip();
        using var ledger = new FaultLedger();
        await using var proxy = FaultProxy.Start(lookupd.Authority);
        await using var producer = new NsqProducer([servers.NsqdTcpAddress], ProducerOptions);
        for (var i = 0; i < 50; i++)
        {
            await ledger.PublishAsync(producer, _topic, PublishBound);
        }

        var reader = new NsqReader(ReaderOptions() with { LookupdHttpAddresses = [proxy.Address] }, Handle(ledger));
        await reader.StartAsync(Ct);
        await WaitAsync(() => ledger.Handled >= 50 && reader.Connections.Count == 1, "discovered and consuming before the fault");

        // Several polls fail or crawl (lookupd requests time out after 5 s): the nsqd connection is not touched.
        var accepted = proxy.AcceptedCount;
        var requested = proxy.BytesFromClient;
        Fault.Apply(proxy, fault);
        for (var i = 0; i < 100; i++)
        {
            await ledger.PublishAsync(producer, _topic, PublishBound);
        }

        // Dropped and refused requests show as new connections (a timed-out request's connection is not reused);
        // reset and dripping ones as requests still going out.
        await WaitAsync(
            fault is "blackhole" or "refuse" ? () => proxy.AcceptedCount >= accepted + 2 && ledger.Handled >= 150
            : () => proxy.BytesFromClient > requested + 500 && ledger.Handled >= 150,
            "consumption continues through failing lookupd polls");
        Assert.Single(reader.Connections);

        proxy.Heal();
        await WaitAsync(ledger.AllAcknowledgedHandled, "every message handled");
        await CloseWithinBoundAsync(reader);
        await ledger.AssertInvariantsAsync();
    }

    private NsqReaderOptions ReaderOptions() => new()
    {
        Topic = _topic,
        Channel = _channel,
        MaxInFlight = 20,
        LookupdPollInterval = TimeSpan.FromMilliseconds(300),
        ReconnectDelay = TimeSpan.FromMilliseconds(50),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
        MaxBackoffDuration = TimeSpan.FromSeconds(1),
        Connection = Connection,
    };

    private static Func<NsqMessage, CancellationToken, ValueTask> Handle(FaultLedger ledger) => (message, _) =>
    {
        ledger.Record(message);
        return ValueTask.CompletedTask;
    };

    private async Task ConsumeDirectlyAsync(FaultLedger ledger)
    {
        var reader = new NsqReader(ReaderOptions() with { NsqdTcpAddresses = [servers.NsqdTcpAddress] }, Handle(ledger));
        await reader.StartAsync(Ct);
        await WaitAsync(ledger.AllAcknowledgedHandled, "every acknowledged publish consumed");
        await CloseWithinBoundAsync(reader);
    }

    private async Task PublishUntilAsync(FaultLedger ledger, NsqProducer producer, Func<bool> done, string because)
    {
        // Four publishers at once, so a fault meets commands in flight, not only an idle connection.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var publishers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && !done())
            {
                await ledger.PublishAsync(producer, _topic, PublishBound);
            }
        })).ToList();
        try
        {
            await WaitAsync(done, because);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(publishers);
        }
    }

    private static async Task CloseWithinBoundAsync(NsqReader reader)
    {
        // CloseAsync is bounded by its token; DisposeAsync by 30 s. Neither may hang.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await reader.CloseAsync(bound.Token).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await reader.DisposeAsync();
    }

    private static Task WaitAsync(Func<bool> condition, string because) => NsqTestServers.WaitUntilAsync(condition, Recovery, because);
}
