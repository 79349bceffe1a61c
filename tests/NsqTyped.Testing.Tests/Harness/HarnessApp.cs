using System.Collections.Concurrent;
using System.Text.Json.Serialization;
using NsqTyped;
using NsqTyped.Testing.Tests.Harness;

// Stands in for an application under test: topics, handlers and the JSON context the generator binds.
[assembly: NsqJsonContext(typeof(HarnessJsonContext))]

namespace NsqTyped.Testing.Tests.Harness;

[NsqTopic("harness.orders")]
public sealed record OrderPlaced(string RunId, int Number);

[NsqTopic("harness.receipts")]
public sealed record ReceiptSent(string RunId, int Number);

[NsqTopic("harness.pulled")]
public sealed record PulledItem(string RunId, int Number);

[JsonSerializable(typeof(OrderPlaced))]
[JsonSerializable(typeof(ReceiptSent))]
[JsonSerializable(typeof(PulledItem))]
[JsonSerializable(typeof(ScopedWork))]
internal sealed partial class HarnessJsonContext : JsonSerializerContext;

/// <summary>What the handlers saw, by run, so tests running at once do not see each other's messages.</summary>
public static class Seen
{
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<string>> s_runs = new();

    public static string NewRun() => Guid.NewGuid().ToString("N");

    public static IReadOnlyList<string> Of(string runId) => [.. s_runs.GetOrAdd(runId, _ => new())];

    public static void Add(string runId, string what) => s_runs.GetOrAdd(runId, _ => new()).Enqueue(what);
}

/// <summary>Bills each order and publishes a receipt: an application handler that publishes.</summary>
public sealed class Billing(INsqPublisher publisher)
{
    [NsqHandler(Channel = "billing")]
    public async ValueTask OnOrderPlacedAsync(OrderPlaced order, NsqMessageContext context, CancellationToken cancellationToken)
    {
        if (order.Number < 0)
        {
            throw new InvalidOperationException($"order {order.Number} cannot be billed");
        }

        Seen.Add(order.RunId, $"billed {order.Number} (attempt {context.Attempts})");
        await publisher.PublishReceiptSentAsync(new ReceiptSent(order.RunId, order.Number), cancellationToken);
    }
}

/// <summary>A second channel of the same topic.</summary>
public static class Shipping
{
    [NsqHandler(Channel = "shipping")]
    public static ValueTask OnOrderPlacedAsync(OrderPlaced order)
    {
        Seen.Add(order.RunId, $"shipped {order.Number}");
        return ValueTask.CompletedTask;
    }
}

[NsqTopic("harness.scoped")]
public sealed record ScopedWork(string RunId, int Number);

/// <summary>A scoped dependency: one per message when the consumer makes a scope per message.</summary>
public sealed class UnitOfWork : IDisposable
{
    private static int s_next;

    public int Id { get; } = Interlocked.Increment(ref s_next);

    public bool IsDisposed { get; private set; }

    public void Dispose() => IsDisposed = true;
}

/// <summary>An instance handler resolved from DI with a scoped dependency.</summary>
public sealed class ScopedWorker(UnitOfWork unitOfWork)
{
    public static ConcurrentQueue<(string RunId, UnitOfWork UnitOfWork)> Seen { get; } = new();

    [NsqHandler(Channel = "work")]
    public ValueTask OnWorkAsync(ScopedWork work)
    {
        Seen.Enqueue((work.RunId, unitOfWork));
        return ValueTask.CompletedTask;
    }
}
