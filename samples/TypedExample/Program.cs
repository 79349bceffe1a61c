using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using NsqTyped;
using NsqTyped.Testing;

[assembly: NsqJsonContext(typeof(AppJson))]

// An embedded nsqd unless NSQD_TCP_ADDRESS names a real one, so this runs anywhere.
var address = Environment.GetEnvironmentVariable("NSQD_TCP_ADDRESS");
await using var embedded = string.IsNullOrEmpty(address) ? await EmbeddedNsqd.StartAsync() : null;
var nsqd = embedded?.TcpAddress ?? address!;
using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));

// Consume: one Reader per [NsqHandler] method (NsqTypedHandlers is generated), started by one call.
var options = new NsqReaderOptions { NsqdTcpAddresses = [nsqd], MaxInFlight = 50, LoggerFactory = logging };
await using (var consumers = await NsqTypedHandlers.StartAllAsync(options))
{
    await consumers.WaitUntilSubscribedAsync(TimeSpan.FromSeconds(10));   // the channel exists from here on
    var billing = consumers.GetReader(NsqTypedHandlers.Billing_OnOrderCreatedAsync);   // by name, not by index

    // Publish: typed, compile-time checked; JSON through the source-generated context (no reflection).
    await using var producer = new NsqProducer(nsqd);
    await producer.PublishAsync(new OrderCreated("A-1", 42m));                                   // PUB, topic from the type
    await producer.PublishOrderCreatedManyAsync([new("A-2", 1m), new("A-3", 2m)]);             // one MPUB
    await producer.PublishOrderCreatedDeferredAsync(new("A-4", 3m), TimeSpan.FromSeconds(1));   // DPUB
    Console.WriteLine($"published 4 orders to {billing.Options.Topic}; A-4 is deferred by 1 s");

    await Billing.AllBilled.Task.WaitAsync(TimeSpan.FromSeconds(30));
}   // disposing drains: running handlers finish first

Console.WriteLine($"done: {Billing.Count} orders billed, the deferred one included");

[NsqTopic("orders.created")]   // topic name checked at compile time (NSQT001)
public sealed record OrderCreated(string OrderId, decimal Total);

[JsonSerializable(typeof(OrderCreated))]
internal partial class AppJson : JsonSerializerContext;

public static class Billing
{
    private static int s_count;

    public static int Count => Volatile.Read(ref s_count);

    public static TaskCompletionSource AllBilled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [NsqHandler(Channel = "billing")]   // signature checked at compile time; returning finishes, throwing requeues
    public static ValueTask OnOrderCreatedAsync(OrderCreated order, NsqMessageContext context, CancellationToken ct)
    {
        Console.WriteLine($"bill {order.OrderId}: {order.Total} (attempt {context.Attempts})");
        if (Interlocked.Increment(ref s_count) == 4)
        {
            AllBilled.TrySetResult();
        }

        return ValueTask.CompletedTask;
    }
}
