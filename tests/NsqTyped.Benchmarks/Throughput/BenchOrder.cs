using System.Text.Json.Serialization;

[assembly: NsqTyped.NsqJsonContext(typeof(NsqTyped.Benchmarks.Throughput.BenchJsonContext))]

namespace NsqTyped.Benchmarks.Throughput;

/// <summary>The typed-consume message: a JSON record of five fields, about 150 bytes.</summary>
[NsqTopic(BenchOrder.Topic)]
public sealed record BenchOrder(string OrderId, string Customer, string Sku, int Quantity, decimal Total)
{
    /// <summary>The topic; fixed at compile time, so each run deletes and refills it.</summary>
    public const string Topic = "bench.typed";

    /// <summary>The channel of <see cref="BenchOrderHandler"/>.</summary>
    public const string Channel = "bench";

    /// <summary>The body every typed message carries.</summary>
    public static BenchOrder Sample { get; } = new("ORD-2026-12-05-000000001", "customer-000042@example.com", "SKU-WIDGET-BLUE-XL-0007", 3, 1234.56m);
}

[JsonSerializable(typeof(BenchOrder))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;

/// <summary>The generated typed handler's target: counts messages down to a completion.</summary>
public static class BenchOrderHandler
{
    private static long s_remaining;
    private static long s_markAt;
    private static Action s_mark = static () => { };
    private static TaskCompletionSource s_done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Expects <paramref name="count"/> messages; calls <paramref name="mark"/> when <paramref name="markAt"/>
    /// are left, and the returned task completes when all were handled.
    /// </summary>
    public static Task Expect(long count, long markAt, Action mark)
    {
        s_done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        s_mark = mark;
        s_markAt = markAt;
        Volatile.Write(ref s_remaining, count);
        return s_done.Task;
    }

    /// <summary>The handler: touches the deserialized record so it is not optimized away, counts it.</summary>
    [NsqHandler(Channel = BenchOrder.Channel)]
    public static ValueTask OnBenchOrderAsync(BenchOrder order, CancellationToken cancellationToken)
    {
        if (order.Quantity != 3)
        {
            throw new InvalidOperationException("Body did not round-trip.");
        }

        var left = Interlocked.Decrement(ref s_remaining);
        if (left == s_markAt)
        {
            s_mark();
        }
        else if (left == 0)
        {
            s_done.TrySetResult();
        }

        return ValueTask.CompletedTask;
    }
}
