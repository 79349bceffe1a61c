namespace AotConsumer;

/// <summary>
/// Counts the messages of this run as they arrive and completes <see cref="AllArrived"/> when every
/// expected one has. Messages of other runs (left on a real nsqd by an earlier, interrupted run) are
/// finished and ignored; a redelivered message of this run is counted once.
/// </summary>
internal sealed class Tally(string runId, IEnumerable<string> expected)
{
    private readonly HashSet<string> _missing = [.. expected];
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _allArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when every expected message arrived.</summary>
    public Task AllArrived => _allArrived.Task;

    /// <summary>Skipped messages of earlier runs.</summary>
    public int Stale { get; private set; }

    /// <summary>Deliveries of a message of this run that had arrived before (NSQ delivers at least once).</summary>
    public int Duplicates { get; private set; }

    /// <summary>What has not arrived yet.</summary>
    public IReadOnlyList<string> Missing
    {
        get
        {
            lock (_gate)
            {
                return [.. _missing.Order(StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>Records a delivery; true when it is this run's first delivery of <paramref name="key"/>.</summary>
    public bool Arrived(string messageRunId, string key)
    {
        lock (_gate)
        {
            if (messageRunId != runId)
            {
                Stale++;
                return false;
            }

            if (!_missing.Remove(key))
            {
                Duplicates++;
                return false;
            }

            if (_missing.Count == 0)
            {
                _allArrived.TrySetResult();
            }

            return true;
        }
    }
}
