using System.Collections.Concurrent;
using System.Text;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Faults;

/// <summary>The fault suite runs alone: its memory and unobserved-exception checks are process-wide.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultSuiteCollection
{
    public const string Name = "fault suite";
}

/// <summary>
/// What every fault test checks, whatever the fault: every acknowledged publish is consumable, every
/// published message is handled at least once, every call ends within its configured bound (no hang),
/// managed memory stays bounded, and no task exception goes unobserved.
/// </summary>
internal sealed class FaultLedger : IDisposable
{
    /// <summary>How much the managed heap (after a full collection) may grow over a fault test.</summary>
    public const long MemoryBound = 64L * 1024 * 1024;

    private readonly string _prefix = Guid.NewGuid().ToString("N")[..8];
    private readonly ConcurrentDictionary<string, byte> _attempted = new();
    private readonly ConcurrentDictionary<string, byte> _acknowledged = new();
    private readonly ConcurrentDictionary<string, Exception> _failed = new();
    private readonly ConcurrentDictionary<string, int> _handled = new();
    private readonly UnobservedTaskExceptions _unobserved = new();
    private readonly long _heapBefore = GC.GetTotalMemory(forceFullCollection: true);
    private int _sequence;

    public int Acknowledged => _acknowledged.Count;

    public int Failed => _failed.Count;

    public int Handled => _handled.Count;

    public int Redelivered => _handled.Values.Count(n => n > 1);

    /// <summary>Publishes one new body; it must be acknowledged or fail with an NSQ exception within <paramref name="bound"/>.</summary>
    public async Task PublishAsync(INsqPublisher publisher, string topic, TimeSpan bound)
    {
        var body = $"{_prefix}-{Interlocked.Increment(ref _sequence)}";
        _attempted[body] = 0;
        var publishing = publisher.PublishAsync(topic, Encoding.UTF8.GetBytes(body), TestContext.Current.CancellationToken).AsTask();
        try
        {
            await publishing.WaitAsync(bound, TestContext.Current.CancellationToken);
            _acknowledged[body] = 0;
        }
        catch (NsqException ex)
        {
            _failed[body] = ex;
        }
        catch (TimeoutException)
        {
            Assert.Fail($"a publish hung: not completed {bound.TotalSeconds:0.#} s after it started (its configured bound)");
        }
    }

    /// <summary>Records a delivery (the handler of the consuming Reader).</summary>
    public void Record(NsqMessage message)
    {
        var body = Encoding.UTF8.GetString(message.Body.Span);
        if (body.StartsWith(_prefix, StringComparison.Ordinal))
        {
            _handled.AddOrUpdate(body, 1, (_, n) => n + 1);
        }
    }

    /// <summary>Every acknowledged publish was handled (at least once).</summary>
    public bool AllAcknowledgedHandled() => _acknowledged.Keys.All(_handled.ContainsKey);

    public async Task AssertInvariantsAsync()
    {
        Assert.Equal(_attempted.Count, _acknowledged.Count + _failed.Count);
        var lost = _acknowledged.Keys.Where(b => !_handled.ContainsKey(b)).Take(5).ToList();
        Assert.True(lost.Count == 0, $"acknowledged but never handled: {string.Join(", ", lost)}");
        Assert.All(_failed.Values, e => Assert.IsAssignableFrom<NsqException>(e));
        var grown = GC.GetTotalMemory(forceFullCollection: true) - _heapBefore;
        Assert.True(grown < MemoryBound, $"the managed heap grew by {grown / 1024 / 1024} MiB (bound {MemoryBound / 1024 / 1024} MiB)");
        await _unobserved.AssertNoneAsync();
    }

    public void Dispose() => _unobserved.Dispose();
}

/// <summary>The faults the suite injects, by name (xunit theory data).</summary>
internal static class Fault
{
    public static void Apply(FaultProxy proxy, string fault)
    {
        switch (fault)
        {
            case "reset":
                proxy.Reset();
                break;
            case "cut-to-server":
                proxy.Cut(FaultDirection.ToServer);
                break;
            case "cut-to-client":
                proxy.Cut(FaultDirection.ToClient);
                break;
            case "blackhole":
                proxy.Blackhole();
                break;
            case "stall-to-client":
                proxy.Stall(FaultDirection.ToClient);
                break;
            case "stall-to-server":
                proxy.Stall(FaultDirection.ToServer);
                break;
            case "drip":
                proxy.Drip(FaultDirection.Both, 7, TimeSpan.FromMilliseconds(2));
                break;
            case "delay":
                proxy.Delay(FaultDirection.Both, TimeSpan.FromMilliseconds(150));
                break;
            case "refuse":
                proxy.RefuseNewConnections();
                proxy.Reset();
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(fault), fault, "no such fault");
        }
    }
}
