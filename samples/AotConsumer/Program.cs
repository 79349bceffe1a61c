// Publishes typed messages and consumes them in generated handlers, as a NativeAOT executable.
//
//   dotnet publish samples/AotConsumer -c Release -o artifacts/aot && artifacts/aot/AotConsumer
//
// Talks to the nsqd at NSQD_TCP_ADDRESS (host:port) when it is set, otherwise to an embedded nsqd on
// 127.0.0.1. Exits 0 once every message arrived in its handler, 1 when some did not within 30 s or
// nsqd could not be reached.
using AotConsumer;
using Microsoft.Extensions.DependencyInjection;
using NsqTyped;
using NsqTyped.Testing;

var timeout = TimeSpan.FromSeconds(30);
var reminderDelay = TimeSpan.FromMilliseconds(500);
const int BatchSize = 4;

var address = Environment.GetEnvironmentVariable("NSQD_TCP_ADDRESS")?.Trim();
await using var embedded = string.IsNullOrEmpty(address) ? await EmbeddedNsqd.StartAsync() : null;
address = embedded?.TcpAddress ?? address!;
Console.WriteLine(embedded is null ? $"nsqd at {address} (NSQD_TCP_ADDRESS)" : $"embedded nsqd at {address}");

var runId = Guid.NewGuid().ToString("N");
var expected = new List<string> { "reminder", "log started", "log finished" };
expected.AddRange(Enumerable.Range(1, BatchSize + 1).Select(n => $"order {n}"));
var tally = new Tally(runId, expected);
NotificationHandlers.Tally = tally;

// The generated registrations are explicit statements (no scanning), so the container works under NativeAOT.
// Without a container, NsqTypedHandlers.Create(type => ...) hands out the same dispatchers.
await using var services = new ServiceCollection()
    .AddSingleton(tally)
    .AddNsqTypedHandlers()
    .BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

// One Reader per generated dispatcher; each message gets its own scope, so a scoped handler is never shared.
var readers = new List<NsqReader>();
foreach (var dispatcher in services.GetServices<INsqHandlerDispatcher>())
{
    var reader = new NsqReader(
        new NsqReaderOptions { Topic = dispatcher.Topic, Channel = dispatcher.Channel, NsqdTcpAddresses = [address], MaxInFlight = 16 },
        async (message, cancellationToken) =>
        {
            await using var scope = services.CreateAsyncScope();
            await dispatcher.DispatchAsync(message, scope.ServiceProvider, cancellationToken);
        });
    reader.HandlerException += (_, e) => Console.Error.WriteLine($"handler failed (requeued): {e.Error.Message}");
    await reader.StartAsync();
    readers.Add(reader);
    Console.WriteLine($"consuming {dispatcher.Topic}/{dispatcher.Channel} with {dispatcher.HandlerName}");
}

int exitCode;
try
{
    await using var producer = new NsqProducer(address);
    await producer.ConnectAsync();
    await producer.PublishLogLineAsync(new LogLine($"{runId} started"));
    await producer.PublishOrderPlacedAsync(new OrderPlaced(runId, 1, 19.99m));
    await producer.PublishOrderPlacedManyAsync(Enumerable.Range(2, BatchSize).Select(n => new OrderPlaced(runId, n, n * 10m)));
    await producer.PublishReminderDueDeferredAsync(new ReminderDue(runId, "check the orders", DateTimeOffset.UtcNow), reminderDelay);
    await producer.PublishLogLineAsync(new LogLine($"{runId} finished"));
    Console.WriteLine($"published {expected.Count} messages (1 PUB + 1 MPUB of {BatchSize} orders, 1 DPUB of {reminderDelay.TotalMilliseconds:0} ms, 2 text lines)");

    await tally.AllArrived.WaitAsync(timeout);
    Console.WriteLine($"all {expected.Count} messages arrived ({tally.Duplicates} redelivered, {tally.Stale} of earlier runs skipped)");
    exitCode = 0;
}
catch (TimeoutException)
{
    Console.Error.WriteLine($"timed out after {timeout.TotalSeconds:0} s; missing: {string.Join(", ", tally.Missing)}");
    exitCode = 1;
}
catch (NsqException ex)
{
    Console.Error.WriteLine($"publishing failed: {ex.Message}");
    exitCode = 1;
}
finally
{
    foreach (var reader in readers)
    {
        await reader.DisposeAsync();
    }
}

return exitCode;
