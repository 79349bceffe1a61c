namespace NsqTyped.Internal;

/// <summary>
/// Timeouts of one connection's pending operations without a timer per operation: operations whose deadlines
/// fall in the same 10 ms slot share one <see cref="CancellationToken"/> that fires at the end of that slot.
/// An operation therefore times out between its timeout and 10 ms later, never earlier, and arming or
/// disarming one costs a callback registration instead of two timer-queue updates.
/// </summary>
internal sealed class TimeoutBuckets
{
    private const long SlotMilliseconds = 10;

    private readonly object _lock = new();
    private Bucket _recent;
    private Bucket _older;

    /// <summary>A token that fires between <paramref name="timeout"/> and 10 ms later.</summary>
    public CancellationToken TokenFor(TimeSpan timeout)
    {
        var now = Environment.TickCount64;
        var slot = ((now + (long)timeout.TotalMilliseconds) / SlotMilliseconds) + 1;
        lock (_lock)
        {
            if (_recent.Source is not null && _recent.Slot == slot)
            {
                return _recent.Source.Token;
            }

            if (_older.Source is not null && _older.Slot == slot)
            {
                return _older.Source.Token;
            }

            // Never disposed: operations may still be registered on it; once its timer fired it holds nothing.
            var source = new CancellationTokenSource();
            source.CancelAfter(TimeSpan.FromMilliseconds(Math.Max(1, (slot * SlotMilliseconds) - now)));
            _older = _recent;
            _recent = new Bucket(slot, source);
            return source.Token;
        }
    }

    private readonly record struct Bucket(long Slot, CancellationTokenSource? Source);
}
