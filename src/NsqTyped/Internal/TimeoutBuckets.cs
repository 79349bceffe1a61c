namespace NsqTyped.Internal;

/// <summary>
/// Timeouts of one connection's pending operations without a timer per operation: operations whose deadlines
/// fall in the same 10 ms slot share one <see cref="TimeoutBucket"/> whose token fires at the end of that slot.
/// An operation therefore times out between its timeout and 10 ms later, never earlier, and arming or
/// disarming one costs a callback registration instead of two timer-queue updates. A bucket is disposed
/// (its timer and registrations freed) as soon as it takes no more operations and the last one left it.
/// </summary>
internal sealed class TimeoutBuckets
{
    private const long SlotMilliseconds = 10;

    private readonly object _lock = new();
    private TimeoutBucket? _recent;
    private TimeoutBucket? _older;

    /// <summary>The bucket for a timeout starting now, entered once for the caller; leave it with <see cref="TimeoutBucket.Leave"/>.</summary>
    public TimeoutBucket Enter(TimeSpan timeout)
    {
        var now = Environment.TickCount64;
        var slot = ((now + (long)timeout.TotalMilliseconds) / SlotMilliseconds) + 1;
        TimeoutBucket? evicted = null;
        TimeoutBucket bucket;
        lock (_lock)
        {
            if (_recent?.Slot == slot)
            {
                bucket = _recent;
            }
            else if (_older?.Slot == slot)
            {
                bucket = _older;
            }
            else
            {
                bucket = new TimeoutBucket(slot, TimeSpan.FromMilliseconds(Math.Max(1, (slot * SlotMilliseconds) - now)));
                evicted = _older;
                _older = _recent;
                _recent = bucket;
            }

            bucket.Enter();
        }

        // Evicted buckets take no more operations: the cache's own reference goes.
        evicted?.Leave();
        return bucket;
    }
}

/// <summary>One deadline slot: a token that fires at its end, and a count of who still uses it.</summary>
internal sealed class TimeoutBucket
{
    private readonly CancellationTokenSource _source = new();

    // 1 for the cache holding it, plus 1 per operation registered on it.
    private int _users = 1;

    public TimeoutBucket(long slot, TimeSpan dueIn)
    {
        Slot = slot;
        _source.CancelAfter(dueIn);
    }

    public long Slot { get; }

    public CancellationToken Token => _source.Token;

    public void Enter() => Interlocked.Increment(ref _users);

    public void Leave()
    {
        // A bucket whose timer already fired holds neither timer nor registrations: the GC takes it.
        if (Interlocked.Decrement(ref _users) == 0 && !_source.IsCancellationRequested)
        {
            _source.Dispose();
        }
    }
}
