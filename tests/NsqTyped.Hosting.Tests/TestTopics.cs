using System.Collections.Concurrent;
using System.Text.Json.Serialization;
using NsqTyped.Hosting.Tests;

[assembly: NsqTyped.NsqJsonContext(typeof(HostingTestJsonContext))]

namespace NsqTyped.Hosting.Tests;

[NsqTopic("hosting.orders")]
public sealed record TestOrder(int Number);

[NsqTopic("hosting.jobs")]
public sealed record SlowJob(int Number);

/// <summary>A message both poison handlers give up at once (they throw <see cref="NsqPermanentFailureException"/>).</summary>
[NsqTopic("hosting.poison")]
public sealed record PoisonPill(int Number);

[JsonSerializable(typeof(PoisonPill))]
[JsonSerializable(typeof(TestOrder))]
[JsonSerializable(typeof(SlowJob))]
internal sealed partial class HostingTestJsonContext : JsonSerializerContext;

/// <summary>What the handlers saw, per host (a singleton of the test's container).</summary>
public sealed class Probe
{
    public ConcurrentQueue<(int Number, Guid Scope)> Orders { get; } = new();

    public ConcurrentQueue<int> JobsStarted { get; } = new();

    public ConcurrentQueue<int> JobsCompleted { get; } = new();

    public ConcurrentQueue<int> JobsCancelled { get; } = new();

    /// <summary>Pills the poison handlers refused, by channel.</summary>
    public ConcurrentQueue<(string Channel, int Number)> Refused { get; } = new();

    /// <summary>Slow handlers wait for this before returning.</summary>
    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A scoped service: a new id per DI scope, so tests can see one scope per message.</summary>
public sealed class ScopeId
{
    public Guid Value { get; } = Guid.NewGuid();
}

public sealed class OrderHandler(Probe probe, ScopeId scope)
{
    [NsqHandler(Channel = "billing")]
    public ValueTask OnOrderAsync(TestOrder order, CancellationToken cancellationToken)
    {
        probe.Orders.Enqueue((order.Number, scope.Value));
        return ValueTask.CompletedTask;
    }
}

public sealed class JobHandler(Probe probe)
{
    [NsqHandler(Channel = "work")]
    public async ValueTask OnJobAsync(SlowJob job, CancellationToken cancellationToken)
    {
        probe.JobsStarted.Enqueue(job.Number);
        try
        {
            await probe.Release.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            probe.JobsCancelled.Enqueue(job.Number);
            throw;
        }

        probe.JobsCompleted.Enqueue(job.Number);
    }
}

/// <summary>
/// Two consumers of one topic that refuse every message: one names its dead-letter topic in the attribute, the
/// other gets it from configuration (<c>Nsq:Consumers:hosting.poison/configured:DeadLetterTopic</c>).
/// </summary>
public sealed class PoisonHandler(Probe probe)
{
    public const string AttributeDeadLetterTopic = "hosting.poison.attribute-dead";

    [NsqHandler(Channel = "attribute", DeadLetterTopic = AttributeDeadLetterTopic)]
    public ValueTask OnPoisonWithAttributeAsync(PoisonPill pill, CancellationToken cancellationToken) => Refuse("attribute", pill);

    [NsqHandler(Channel = "configured")]
    public ValueTask OnPoisonConfiguredAsync(PoisonPill pill, CancellationToken cancellationToken) => Refuse("configured", pill);

    private ValueTask Refuse(string channel, PoisonPill pill)
    {
        probe.Refused.Enqueue((channel, pill.Number));
        throw new NsqPermanentFailureException($"pill {pill.Number} is poison");
    }
}
