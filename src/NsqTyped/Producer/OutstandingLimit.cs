namespace NsqTyped;

/// <summary>
/// Bounds a producer's outstanding publishes (from the call to nsqd's answer) by count and by bytes, so a
/// server that stops reading or answering cannot make client memory grow without bound. A publish that
/// does not fit waits, first come first served, until earlier ones complete, its token fires or its
/// timeout runs out. A publish larger than the byte bound on its own still goes when nothing else is outstanding.
/// </summary>
internal sealed class OutstandingLimit(int maxCount, long maxBytes)
{
    private readonly Lock _lock = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private int _count;
    private long _bytes;

    /// <summary>Publishes outstanding now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Bytes outstanding now.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Takes room for <paramref name="count"/> messages of <paramref name="bytes"/> bytes, waiting up to <paramref name="timeout"/>.</summary>
    /// <returns>Completed at once when there is room.</returns>
    /// <exception cref="TimeoutException">No room within <paramref name="timeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired first.</exception>
    public ValueTask EnterAsync(int count, long bytes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_lock)
        {
            if (_waiters.Count == 0 && Fits(count, bytes))
            {
                _count += count;
                _bytes += bytes;
                return ValueTask.CompletedTask;
            }

            waiter = new Waiter(count, bytes);
            waiter.Node = _waiters.AddLast(waiter);
        }

        return new ValueTask(WaitAsync(waiter, timeout, cancellationToken));
    }

    /// <summary>Takes room at once if there is some and nobody is waiting.</summary>
    public bool TryEnter(int count, long bytes)
    {
        lock (_lock)
        {
            if (_waiters.Count == 0 && Fits(count, bytes))
            {
                _count += count;
                _bytes += bytes;
                return true;
            }

            return false;
        }
    }

    /// <summary>Gives back what <see cref="EnterAsync"/> took and lets waiting publishes in, in order.</summary>
    public void Exit(int count, long bytes)
    {
        lock (_lock)
        {
            _count -= count;
            _bytes -= bytes;
            while (_waiters.First is { } first && Fits(first.Value.Count, first.Value.Bytes))
            {
                _waiters.RemoveFirst();
                first.Value.Node = null;
                _count += first.Value.Count;
                _bytes += first.Value.Bytes;
                first.Value.Granted.TrySetResult();
            }
        }
    }

    private bool Fits(int count, long bytes) =>
        _count == 0 || (_count + count <= maxCount && _bytes + bytes <= maxBytes);

    private async Task WaitAsync(Waiter waiter, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await waiter.Granted.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            bool granted;
            lock (_lock)
            {
                granted = waiter.Node is null;
                if (!granted)
                {
                    _waiters.Remove(waiter.Node!);
                    waiter.Node = null;
                }
            }

            if (!granted)
            {
                // Leaving the line may let the next waiter in (it could have been blocked behind this one).
                Exit(0, 0);
                throw;
            }

            // Granted just as the wait ended: give the room back, and report the timeout or cancellation.
            Exit(waiter.Count, waiter.Bytes);
            throw;
        }
    }

    private sealed class Waiter(int count, long bytes)
    {
        public int Count { get; } = count;

        public long Bytes { get; } = bytes;

        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }
    }
}
