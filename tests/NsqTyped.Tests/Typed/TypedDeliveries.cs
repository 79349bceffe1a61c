using System.Collections.Concurrent;
using System.Diagnostics;

namespace NsqTyped.Tests.Typed;

/// <summary>One call of a typed handler, as the handler saw it.</summary>
/// <param name="Handler">Which handler ran.</param>
/// <param name="Message">The deserialized message it got.</param>
/// <param name="Topic">The topic from its <see cref="NsqMessageContext"/>, or null when it takes none.</param>
/// <param name="Channel">The channel from its context, or null.</param>
/// <param name="Attempts">The attempt from its context, or 0.</param>
/// <param name="TokenCanBeCanceled">Whether the token it got is the consumer's (a real, cancellable one); null when it takes none.</param>
/// <param name="InstanceId">Which instance ran an instance handler; 0 for static handlers.</param>
/// <param name="ArrivedAt">A <see cref="Stopwatch"/> timestamp of the call.</param>
public sealed record TypedDelivery(
    string Handler,
    object Message,
    string? Topic,
    string? Channel,
    ushort Attempts,
    bool? TokenCanBeCanceled,
    int InstanceId,
    long ArrivedAt);

/// <summary>
/// What the typed handlers record, per test run. Topics are fixed at compile time, so a real nsqd may
/// still hold messages of an earlier, interrupted run: they carry another run id and are dropped here
/// (the handlers return normally, so they are finished and do not come back).
/// </summary>
public static class TypedDeliveries
{
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<TypedDelivery>> s_runs = new();
    private static int s_instances;

    /// <summary>Starts recording a new run and returns its id.</summary>
    public static string NewRun()
    {
        var runId = Guid.NewGuid().ToString("N");
        s_runs[runId] = new ConcurrentQueue<TypedDelivery>();
        return runId;
    }

    /// <summary>Every call recorded for <paramref name="runId"/> so far, in arrival order.</summary>
    public static IReadOnlyList<TypedDelivery> Of(string runId) => [.. s_runs[runId]];

    /// <summary>The calls of one handler in <paramref name="runId"/>.</summary>
    public static IReadOnlyList<TypedDelivery> Of(string runId, string handler) => [.. s_runs[runId].Where(d => d.Handler == handler)];

    /// <summary>A number for a new handler instance.</summary>
    public static int NextInstanceId() => Interlocked.Increment(ref s_instances);

    /// <summary>Records a call; calls of unknown runs are dropped.</summary>
    public static void Record(string runId, TypedDelivery delivery)
    {
        if (s_runs.TryGetValue(runId, out var deliveries))
        {
            deliveries.Enqueue(delivery);
        }
    }
}
