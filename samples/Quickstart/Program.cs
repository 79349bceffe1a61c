// NsqTyped quickstart: typed messages, generated publish methods, generated handlers on Readers.
//
//   dotnet run --project samples/Quickstart
//
// Uses an embedded nsqd on 127.0.0.1 unless NSQD_TCP_ADDRESS (host:port) names a real nsqd; with
// NSQLOOKUPD_HTTP_ADDRESS (http://host:4161) the consumers also discover nsqd through nsqlookupd.
// Exits 0 once every published message was handled on every channel, 1 if some were not within 30 s.
using NsqTyped;
using NsqTyped.Testing;
using Quickstart;

var timeout = TimeSpan.FromSeconds(30);
var nsqdAddress = Variable("NSQD_TCP_ADDRESS");
var lookupdAddress = Variable("NSQLOOKUPD_HTTP_ADDRESS");
if (nsqdAddress is null && lookupdAddress is not null)
{
    Console.Error.WriteLine("NSQLOOKUPD_HTTP_ADDRESS is set but NSQD_TCP_ADDRESS is not: the producer publishes to an nsqd, so set both.");
    return 2;
}

await using var embedded = nsqdAddress is null ? await EmbeddedNsqd.StartAsync() : null;
nsqdAddress ??= embedded!.TcpAddress;
Console.WriteLine(embedded is null
    ? $"Using nsqd {nsqdAddress}{(lookupdAddress is null ? "" : $" and nsqlookupd {lookupdAddress}")} from the environment."
    : $"Started an embedded nsqd on {nsqdAddress} (set NSQD_TCP_ADDRESS to use a real one).");

// What this run publishes, and what the handlers must see: every order on two channels, every audit line on one.
var runId = Guid.NewGuid().ToString("N")[..8];
OrderPlaced[] orders =
[
    new(runId, 1, "ada", 12.50m),
    new(runId, 2, "grace", 99.00m),
    new(runId, 3, "linus", 5.25m),
    new(runId, 4, "barbara", 42.00m),
];
string[] audit = ["run started", "orders published"];
var expected = orders.SelectMany(o => new[] { $"billing: order {o.Number}", $"shipping: order {o.Number}" })
    .Concat(audit.Select(a => $"archive: {a}"));
var progress = new Progress(runId, expected);
AuditHandlers.Progress = progress;

// 1. Consume. NsqTypedHandlers is generated: one dispatcher per [NsqHandler] method. StartAllAsync runs one
//    Reader per handler; instance handlers get their instance from the factory here (with DI, pass an
//    IServiceProvider instead, or let AddNsqTypedHandlers + NsqTyped.Hosting do it all).
var options = new NsqReaderOptions
{
    NsqdTcpAddresses = [nsqdAddress],
    LookupdHttpAddresses = lookupdAddress is null ? [] : [lookupdAddress],
    LookupdPollInterval = TimeSpan.FromSeconds(5),
    MaxInFlight = 10,
};
await using var consumers = await NsqReaderGroup.StartAsync(
    NsqTypedHandlers.Create(type => type == typeof(OrderHandlers) ? new OrderHandlers(progress) : throw new InvalidOperationException($"No instance for {type}.")),
    options,
    configure: reader => reader.HandlerException += (_, e) => Console.Error.WriteLine($"  handler failed, message requeued: {e.Error.Message}"));
foreach (var dispatcher in consumers.Dispatchers)
{
    Console.WriteLine($"Consuming {dispatcher.Topic}/{dispatcher.Channel} with {dispatcher.HandlerName}");
}

// A channel exists once a consumer subscribed to it; messages published before that would not reach it.
try
{
    await consumers.WaitUntilSubscribedAsync(timeout);
}
catch (TimeoutException e)
{
    Console.Error.WriteLine($"Could not subscribe to nsqd {nsqdAddress}: {e.Message}");
    return 1;
}

// 2. Publish through the generated, typed methods: PUB, MPUB (one round trip) and DPUB (deferred).
int exitCode;
await using (var producer = new NsqProducer(nsqdAddress))
{
    await producer.PublishAuditLineAsync(new AuditLine($"{runId} {audit[0]}"));
    await producer.PublishOrderPlacedAsync(orders[0]);
    await producer.PublishOrderPlacedManyAsync(orders[1..3]);
    await producer.PublishOrderPlacedDeferredAsync(orders[3], TimeSpan.FromMilliseconds(500));
    await producer.PublishAuditLineAsync(new AuditLine($"{runId} {audit[1]}"));
    Console.WriteLine($"Published {orders.Length} orders (1 PUB, 1 MPUB of 2, 1 DPUB of 500 ms) and {audit.Length} audit lines; waiting for the handlers:");

    // 3. Wait until every channel handled every message.
    try
    {
        await progress.Done.WaitAsync(timeout);
        Console.WriteLine("Every message was handled on every channel.");
        exitCode = 0;
    }
    catch (TimeoutException)
    {
        Console.Error.WriteLine($"Timed out after {timeout.TotalSeconds:0} s; not handled: {string.Join(", ", progress.Missing)}");
        exitCode = 1;
    }
}

// 4. Close gracefully: stop taking messages, let running handlers finish, requeue what was not started.
await consumers.CloseAsync();

Console.WriteLine(exitCode == 0 ? "Done." : "Failed.");
return exitCode;

static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value.Trim() : null;
