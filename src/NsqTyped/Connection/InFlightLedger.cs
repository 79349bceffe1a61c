using NsqTyped.Protocol;

namespace NsqTyped.Internal;

/// <summary>
/// The one record of what a connection has in flight: message id → when it was delivered (or last
/// touched). The read loop adds, FIN/REQ remove, TOUCH renews. RDY control, <c>IsStarved</c>,
/// close/drain and telemetry all read it; nothing else counts in-flight messages.
/// </summary>
/// <remarks>
/// An entry expires at the negotiated <c>msg_timeout</c> after its delivery or last TOUCH: by then
/// nsqd has taken the message back and will redeliver it, so a message nobody answered (pull mode,
/// manual finish, a hung handler) can never keep the count up. Expired entries are swept lazily,
/// with one scan of the (at most RDY-sized) table when the earliest possible expiry has passed.
/// </remarks>
internal sealed class InFlightLedger
{
    private readonly object _gate = new();
    private readonly Dictionary<NsqMessageId, long> _entries = [];
    private readonly Func<long> _clock;
    private long _timeoutMs = long.MaxValue / 4;
    private long _nextSweepAt = long.MaxValue;
    private long _lastActivity;
    private int _count;
    private TaskCompletionSource? _empty;

    /// <summary>Creates a ledger.</summary>
    /// <param name="clock">Milliseconds on a monotonic clock; <see cref="Environment.TickCount64"/> by default.</param>
    public InFlightLedger(Func<long>? clock = null) => _clock = clock ?? (static () => Environment.TickCount64);

    /// <summary>The negotiated message timeout: entries older than this (since delivery or TOUCH) no longer count.</summary>
    public TimeSpan Timeout
    {
        get => TimeSpan.FromMilliseconds(Volatile.Read(ref _timeoutMs));
        set
        {
            lock (_gate)
            {
                _timeoutMs = Math.Max(1, (long)value.TotalMilliseconds);
            }
        }
    }

    /// <summary>Messages delivered and neither answered nor expired.</summary>
    public int Count
    {
        get
        {
            if (Volatile.Read(ref _count) > 0 && _clock() >= Volatile.Read(ref _nextSweepAt))
            {
                lock (_gate)
                {
                    Sweep(_clock());
                }
            }

            return Volatile.Read(ref _count);
        }
    }

    /// <summary>The clock value (<see cref="Environment.TickCount64"/> by default) of the last delivery or answer; 0 when none happened yet.</summary>
    public long LastActivity => Volatile.Read(ref _lastActivity);

    /// <summary>A message was delivered; returns the count including it (a redelivery of an id still listed renews it).</summary>
    public int Add(NsqMessageId id)
    {
        lock (_gate)
        {
            var now = _clock();
            if (now >= _nextSweepAt)
            {
                Sweep(now);
            }

            _entries[id] = now;
            _count = _entries.Count;
            if (_nextSweepAt == long.MaxValue)
            {
                _nextSweepAt = now + _timeoutMs;
            }

            Volatile.Write(ref _lastActivity, now);
            return _count;
        }
    }

    /// <summary>The message was answered (FIN or REQ); false when it was not listed (expired, or never delivered here).</summary>
    public bool Remove(NsqMessageId id)
    {
        lock (_gate)
        {
            Volatile.Write(ref _lastActivity, _clock());
            if (!_entries.Remove(id))
            {
                return false;
            }

            _count = _entries.Count;
            if (_count == 0)
            {
                _nextSweepAt = long.MaxValue;
                SignalEmpty();
            }

            return true;
        }
    }

    /// <summary>TOUCH: nsqd restarts the message's timeout, so does the ledger.</summary>
    public void Touch(NsqMessageId id)
    {
        lock (_gate)
        {
            if (_entries.ContainsKey(id))
            {
                _entries[id] = _clock();
            }
        }
    }

    /// <summary>
    /// Messages nsqd certainly still holds in flight: delivered or touched less than <c>msg_timeout</c> minus
    /// <paramref name="grace"/> ago. nsqd starts a message's timeout when it sends it, the ledger when the
    /// message arrives, so a slot nsqd has already freed at its own timeout can still be listed here for
    /// up to the one-way latency; the RDY ceiling check counts with this margin so that it never mistakes
    /// such a refill for a protocol violation.
    /// </summary>
    public int CountCertainlyHeld(TimeSpan grace)
    {
        lock (_gate)
        {
            var now = _clock();
            var limit = Math.Max(0, _timeoutMs - (long)grace.TotalMilliseconds);
            var held = 0;
            foreach (var at in _entries.Values)
            {
                if (now - at < limit)
                {
                    held++;
                }
            }

            return held;
        }
    }

    /// <summary>The connection closed: nothing can be answered on it any more.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _entries.Clear();
            _count = 0;
            _nextSweepAt = long.MaxValue;
            SignalEmpty();
        }
    }

    /// <summary>Completes when nothing is in flight (answered, expired, or the connection closed).</summary>
    public async Task WaitEmptyAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task empty;
            TimeSpan wait;
            lock (_gate)
            {
                var now = _clock();
                Sweep(now);
                if (_count == 0)
                {
                    return;
                }

                _empty ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                empty = _empty.Task;
                wait = TimeSpan.FromMilliseconds(Math.Max(1, _nextSweepAt - now));
            }

            try
            {
                await empty.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (TimeoutException)
            {
                // The earliest expiry passed: sweep and look again.
            }
        }
    }

    private void Sweep(long now)
    {
        if (_entries.Count == 0)
        {
            _nextSweepAt = long.MaxValue;
            return;
        }

        var oldest = long.MaxValue;
        List<NsqMessageId>? expired = null;
        foreach (var (id, at) in _entries)
        {
            if (now - at >= _timeoutMs)
            {
                (expired ??= []).Add(id);
            }
            else if (at < oldest)
            {
                oldest = at;
            }
        }

        if (expired is not null)
        {
            foreach (var id in expired)
            {
                _entries.Remove(id);
            }
        }

        _count = _entries.Count;
        _nextSweepAt = oldest == long.MaxValue ? long.MaxValue : oldest + _timeoutMs;
        if (_count == 0)
        {
            SignalEmpty();
        }
    }

    private void SignalEmpty()
    {
        var empty = _empty;
        _empty = null;
        empty?.TrySetResult();
    }
}
