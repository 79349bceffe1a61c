namespace NsqTyped.Internal;

/// <summary>
/// Timeouts of one connection's pending operations without a timer or a callback registration per operation:
/// operations whose deadlines fall in the same 10 ms slot are linked into one <see cref="TimeoutBucket"/>,
/// whose one timer fires at the end of that slot and times out the operations still linked. An operation
/// therefore times out between its timeout and 10 ms later, never earlier. Arming one is a link under the
/// lock the bucket lookup takes anyway, disarming one an unlink, and neither allocates. A bucket's timer
/// is disposed as soon as the bucket takes no more operations and the last one left it.
/// </summary>
/// <remarks>
/// The lock is the connection's write lock (<see cref="Lock"/> is reentrant): a publish is linked while the
/// connection holds it anyway to queue the publish, and the read loop unlinks a whole answered command's
/// publishes in the one lock section in which it also updates the topic's queue (<see cref="LeaveChain"/>).
/// An answered publish therefore costs its caller no lock of its own when it is returned to the pool.
/// </remarks>
internal sealed class TimeoutBuckets(Lock gate)
{
    private const long SlotMilliseconds = 10;

    // One lock for the cache and every bucket's list: a bucket's operations, its timer and its cache place change together.
    private readonly Lock _lock = gate;
    private TimeoutBucket? _recent;
    private TimeoutBucket? _older;

    /// <summary>Links <paramref name="op"/> into the bucket for a timeout starting now; <see cref="Leave"/> unlinks it.</summary>
    public void Enter(TimeSpan timeout, PendingOperation op)
    {
        var now = Environment.TickCount64;
        var slot = ((now + (long)timeout.TotalMilliseconds) / SlotMilliseconds) + 1;
        lock (_lock)
        {
            TimeoutBucket bucket;
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
                bucket = new TimeoutBucket(this, slot, TimeSpan.FromMilliseconds(Math.Max(1, (slot * SlotMilliseconds) - now)));
                if (_older is { } evicted)
                {
                    // Evicted buckets take no more operations.
                    evicted.Cached = false;
                    DisposeIfIdle(evicted);
                }

                _older = _recent;
                _recent = bucket;
            }

            // A cached bucket has not fired: its slot ends after now + timeout, and a fired bucket leaves the cache.
            op.Bucket = bucket;
            op.BucketNext = bucket.Head;
            if (bucket.Head is { } head)
            {
                head.BucketPrevious = op;
            }

            bucket.Head = op;
        }
    }

    /// <summary>Unlinks <paramref name="op"/> from its bucket, if it is in one; its timeout no longer fires.</summary>
    /// <remarks>
    /// Called when the operation goes back to the pool. An operation unlinked already (by <see cref="LeaveChain"/>
    /// or by its timeout firing) costs no lock: <see cref="Fire"/> lets go of an operation's link only after it
    /// is done with the operation, so seeing no link means nothing here touches it any more.
    /// </remarks>
    public void Leave(PendingOperation op)
    {
        if (!op.IsInBucket)
        {
            return;
        }

        lock (_lock)
        {
            Unlink(op);
        }
    }

    /// <summary>Unlinks every operation of a command (<paramref name="first"/> and its <see cref="PendingOperation.NextInBatch"/> chain) in one lock section: the command's answer arrived.</summary>
    public void LeaveChain(PendingOperation first)
    {
        lock (_lock)
        {
            for (var op = first; op is not null; op = op.NextInBatch)
            {
                Unlink(op);
            }
        }
    }

    /// <summary>Under the lock: unlinks <paramref name="op"/> from its bucket, if it is in one.</summary>
    private static void Unlink(PendingOperation op)
    {
        if (op.Bucket is not { } bucket)
        {
            return;
        }

        if (op.BucketPrevious is { } previous)
        {
            previous.BucketNext = op.BucketNext;
        }
        else
        {
            bucket.Head = op.BucketNext;
        }

        if (op.BucketNext is { } next)
        {
            next.BucketPrevious = op.BucketPrevious;
        }

        op.BucketNext = null;
        op.BucketPrevious = null;
        op.Bucket = null;
        DisposeIfIdle(bucket);
    }

    /// <summary>The bucket's slot ended: every operation still in it times out.</summary>
    internal void Fire(TimeoutBucket bucket)
    {
        lock (_lock)
        {
            bucket.Fired = true;
            for (var op = bucket.Head; op is not null;)
            {
                var next = op.BucketNext;
                op.BucketNext = null;
                op.BucketPrevious = null;

                // Completing never runs the caller's code here (continuations run asynchronously), so nothing re-enters the lock.
                op.TimeOut();

                // Last: once the link is gone, Leave no longer waits for this lock, and the operation may go back to the pool.
                op.Bucket = null;
                op = next;
            }

            bucket.Head = null;
            if (_recent == bucket)
            {
                _recent = null;
            }

            if (_older == bucket)
            {
                _older = null;
            }

            bucket.Cached = false;
            bucket.Timer.Dispose();
        }
    }

    private static void DisposeIfIdle(TimeoutBucket bucket)
    {
        if (!bucket.Cached && bucket.Head is null && !bucket.Fired)
        {
            bucket.Fired = true;
            bucket.Timer.Dispose();
        }
    }
}

/// <summary>One deadline slot: the operations due at its end (linked through them), and a timer for it. Only touched under its <see cref="TimeoutBuckets"/>' lock.</summary>
internal sealed class TimeoutBucket
{
    private static readonly TimerCallback s_fire = static state =>
    {
        var bucket = (TimeoutBucket)state!;
        bucket.Owner.Fire(bucket);
    };

    public TimeoutBucket(TimeoutBuckets owner, long slot, TimeSpan dueIn)
    {
        Owner = owner;
        Slot = slot;
        Timer = new Timer(s_fire, this, dueIn, Timeout.InfiniteTimeSpan);
    }

    public TimeoutBuckets Owner { get; }

    public long Slot { get; }

    public Timer Timer { get; }

    /// <summary>The first operation due; the rest follow through <see cref="PendingOperation.BucketNext"/>.</summary>
    public PendingOperation? Head { get; set; }

    /// <summary>Whether the bucket may still take operations (it is one of the two cached).</summary>
    public bool Cached { get; set; } = true;

    /// <summary>Whether the timer fired or was disposed: the bucket takes no more operations.</summary>
    public bool Fired { get; set; }
}
