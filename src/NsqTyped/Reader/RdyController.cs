namespace NsqTyped.Reader;

/// <summary>How a handled message ended, as far as backoff is concerned.</summary>
internal enum RdyOutcome
{
    /// <summary>Finished: shrinks an active backoff.</summary>
    Success,

    /// <summary>Handler failure (exception, or a requeue with backoff): starts or grows the backoff.</summary>
    Failure,

    /// <summary>Requeued without backoff: says nothing about the health of the handler.</summary>
    Neutral,
}

/// <summary>Where the Reader's flow control stands.</summary>
internal enum RdyPhase
{
    /// <summary>Full flow: max_in_flight spread over the connections.</summary>
    Flowing,

    /// <summary>Backing off: RDY 0 everywhere until the jittered deadline.</summary>
    BackingOff,

    /// <summary>Backoff expired: RDY 1 on one connection to test the waters.</summary>
    Testing,

    /// <summary>The Reader is closing: RDY 0 everywhere, for good.</summary>
    Stopped,
}

/// <summary>
/// The single owner of every RDY decision of a Reader. It is not thread-safe on purpose: the
/// Reader's actor loop is its only caller, so the invariants cannot race.
/// </summary>
/// <remarks>
/// <para>Invariants after every emitted command: Σ max(RDY, in flight) ≤ max_in_flight, so the messages
/// in flight never exceed max_in_flight either, also while RDY moves between connections (a lowered
/// RDY does not take back what nsqd already delivered: an increase elsewhere waits for those
/// messages to be answered); each RDY ≤ that connection's max_rdy_count; an unchanged value is never
/// re-sent. Within one decision decreases are emitted before increases.</para>
/// <para>In-flight counts and the time of the last delivery or answer are not kept here: they are
/// read from each connection's in-flight ledger (the delegates given to the constructor). A
/// connection with messages in flight is never idle.</para>
/// <para>Distribution (gnsq's two regimes). When max_in_flight ≥ connections ("saturated"): a new
/// connection, or one idle for low_ready_idle_timeout, holds RDY 1; the rest of the budget is spread
/// evenly over the active ones (remainder to the oldest, so repeated decisions do not flap).
/// When max_in_flight &lt; connections: max_in_flight connections hold RDY 1; a holder gives it up
/// after low_ready_idle_timeout without a message, or after 3 × low_ready_idle_timeout in any case
/// (go-nsq's low_rdy_timeout 30 s = 3 × 10 s), and freed slots go to the connections that have waited
/// longest, so every producer gets its turn.</para>
/// <para>Backoff is Reader-wide (go-nsq, pynsq, nsqjs; gnsq backs off per connection): a failure sends
/// RDY 0 everywhere for <see cref="NsqBackoffPolicy.NextDelay"/>, then RDY 1 on one connection; each
/// success decrements the counter (backing off again while it is above 0), each failure increments
/// it. Outcomes that arrive while the backoff timer runs are ignored, as go-nsq does: they belong to
/// messages delivered before the backoff started and say nothing new.</para>
/// </remarks>
internal sealed class RdyController<TConn>
    where TConn : notnull
{
    /// <summary>go-nsq's low_rdy_timeout (30 s) is three times its low_rdy_idle_timeout (10 s).</summary>
    private const int HoldLimitFactor = 3;

    private readonly Dictionary<TConn, ConnState> _conns = [];
    private readonly List<ConnState> _scratch = [];
    private readonly NsqBackoffPolicy _backoff;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Action<TConn, long> _sendRdy;
    private readonly Func<TConn, int> _inFlight;
    private readonly Func<TConn, DateTimeOffset?> _lastActivity;
    private long _nextSequence;
    private ConnState? _testConn;

    /// <summary>Creates the controller.</summary>
    /// <param name="maxInFlight">The Reader's max_in_flight.</param>
    /// <param name="lowReadyIdleTimeout">How long without a delivery or answer makes a connection idle.</param>
    /// <param name="backoff">The backoff curve.</param>
    /// <param name="time">The clock.</param>
    /// <param name="random">Jitter and tie-breaking.</param>
    /// <param name="sendRdy">Sends one RDY command.</param>
    /// <param name="inFlight">A connection's messages in flight (its ledger).</param>
    /// <param name="lastActivity">A connection's last delivery or answer (its ledger); null before the first.</param>
    public RdyController(
        long maxInFlight,
        TimeSpan lowReadyIdleTimeout,
        NsqBackoffPolicy backoff,
        TimeProvider time,
        Random random,
        Action<TConn, long> sendRdy,
        Func<TConn, int> inFlight,
        Func<TConn, DateTimeOffset?> lastActivity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInFlight, 0);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lowReadyIdleTimeout, TimeSpan.Zero);
        MaxInFlight = maxInFlight;
        LowReadyIdleTimeout = lowReadyIdleTimeout;
        _backoff = backoff;
        _time = time;
        _random = random;
        _sendRdy = sendRdy;
        _inFlight = inFlight;
        _lastActivity = lastActivity;
    }

    public long MaxInFlight { get; }

    public TimeSpan LowReadyIdleTimeout { get; }

    public RdyPhase Phase { get; private set; }

    public int BackoffCounter { get; private set; }

    /// <summary>When the current backoff wait ends (only in <see cref="RdyPhase.BackingOff"/>).</summary>
    public DateTimeOffset BackoffUntil { get; private set; }

    /// <summary>Connections that take part in the distribution.</summary>
    public int ConnectionCount => _conns.Count;

    /// <summary>
    /// Some connection's RDY is held below its share because messages still in flight elsewhere use the
    /// budget; completions must be reported (<see cref="OnMessageCompleted"/>) so the grant can follow.
    /// </summary>
    public bool HasHeldGrants { get; private set; }

    /// <summary>Whether <paramref name="conn"/> counts as active (has its full share) right now.</summary>
    public bool IsActive(TConn conn) => _conns.TryGetValue(conn, out var s) && s.Active;

    public long TotalRdy
    {
        get
        {
            long sum = 0;
            foreach (var s in _conns.Values)
            {
                sum += s.Rdy;
            }

            return sum;
        }
    }

    public bool Contains(TConn conn) => _conns.ContainsKey(conn);

    public long GetRdy(TConn conn) => _conns.TryGetValue(conn, out var s) ? s.Rdy : 0;

    public long GetMaxRdy(TConn conn) => _conns.TryGetValue(conn, out var s) ? s.MaxRdy : 0;

    /// <summary>A subscribed connection joins; it gets RDY 1 if the budget and the phase allow.</summary>
    public void Add(TConn conn, long maxRdyCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRdyCount, 0);
        if (_conns.ContainsKey(conn))
        {
            return;
        }

        var now = _time.GetUtcNow();
        _conns.Add(conn, new ConnState(conn, Math.Max(0, maxRdyCount), _nextSequence++, now));
        if (Phase == RdyPhase.Testing && _testConn is null)
        {
            _testConn = _conns[conn];
        }

        Rebalance(now);
    }

    /// <summary>A connection is gone; its RDY went with it, so others may get more.</summary>
    public void Remove(TConn conn)
    {
        if (!_conns.Remove(conn, out var state))
        {
            return;
        }

        if (ReferenceEquals(_testConn, state))
        {
            _testConn = null;
            PickTestConnection();
        }

        Rebalance(_time.GetUtcNow());
    }

    /// <summary>
    /// A message arrived on <paramref name="conn"/>. Its ledger already counts it; the controller only
    /// needs to hear about the first message on a connection it holds at RDY 1 (new or idle), which
    /// turns that connection active in the saturated regime.
    /// </summary>
    public void OnMessageReceived(TConn conn)
    {
        if (!_conns.TryGetValue(conn, out var s))
        {
            return;
        }

        if (Phase == RdyPhase.Flowing && !s.Active && ConnectionCount <= MaxInFlight)
        {
            Rebalance(_time.GetUtcNow());
        }
    }

    /// <summary>
    /// A message from <paramref name="conn"/> was finished or requeued (the connection may be gone
    /// already). Needed for failures, while backing off or testing, and while grants are held.
    /// </summary>
    public void OnMessageCompleted(TConn conn, RdyOutcome outcome)
    {
        var now = _time.GetUtcNow();
        if (_backoff.IsEnabled && Phase is RdyPhase.Flowing or RdyPhase.Testing)
        {
            switch (outcome)
            {
                case RdyOutcome.Failure:
                    BackoffCounter = Math.Min(BackoffCounter + 1, _backoff.MaxCounter);
                    StartBackingOff(now);
                    return;
                case RdyOutcome.Success when BackoffCounter > 0:
                    BackoffCounter--;
                    if (BackoffCounter == 0)
                    {
                        Phase = RdyPhase.Flowing;
                        _testConn = null;
                        Rebalance(now);
                    }
                    else
                    {
                        StartBackingOff(now);
                    }

                    return;
            }
        }

        if (HasHeldGrants)
        {
            Rebalance(now);
        }
    }

    /// <summary>Time moved on: ends a backoff wait, rotates idle RDY, demotes idle connections.</summary>
    public void Tick()
    {
        var now = _time.GetUtcNow();
        if (Phase == RdyPhase.BackingOff && now >= BackoffUntil)
        {
            EnterTesting();
        }

        Rebalance(now);
    }

    /// <summary>When <see cref="Tick"/> may next change something; <see langword="null"/> when nothing is time-driven now.</summary>
    public TimeSpan? NextTickDelay()
    {
        var now = _time.GetUtcNow();
        DateTimeOffset? due = null;
        void Consider(DateTimeOffset at)
        {
            if (due is null || at < due)
            {
                due = at;
            }
        }

        // Held grants wait for completions; a message that expires instead of being answered reports
        // nothing, so look again after a while.
        if (HasHeldGrants)
        {
            Consider(now + HeldGrantRecheck);
        }

        switch (Phase)
        {
            case RdyPhase.BackingOff:
                Consider(BackoffUntil);
                break;
            case RdyPhase.Testing when _testConn is not null && ConnectionCount > 1:
                Consider(IdleDeadline(_testConn, now));
                break;
            case RdyPhase.Flowing when ConnectionCount > MaxInFlight:
                foreach (var s in _conns.Values)
                {
                    if (s.Rdy > 0)
                    {
                        Consider(HolderExpiry(s, now));
                    }
                }

                break;
            case RdyPhase.Flowing:
                foreach (var s in _conns.Values)
                {
                    if (s.Active)
                    {
                        Consider(ActiveUntil(s, now));
                    }
                }

                break;
        }

        return due is { } d ? (d > now ? d - now : TimeSpan.Zero) : null;
    }

    /// <summary>The Reader is closing: RDY 0 everywhere, and no RDY ever again.</summary>
    public void Stop()
    {
        Phase = RdyPhase.Stopped;
        _testConn = null;
        Rebalance(_time.GetUtcNow());
    }

    private void StartBackingOff(DateTimeOffset now)
    {
        Phase = RdyPhase.BackingOff;
        _testConn = null;
        var delay = _backoff.NextDelay(BackoffCounter, _random);
        BackoffUntil = now + delay;
        if (delay <= TimeSpan.Zero)
        {
            EnterTesting();
        }

        Rebalance(now);
    }

    private void EnterTesting()
    {
        Phase = RdyPhase.Testing;
        _testConn = null;
        PickTestConnection();
    }

    private void PickTestConnection(ConnState? exclude = null)
    {
        _scratch.Clear();
        foreach (var s in _conns.Values)
        {
            if (s.MaxRdy > 0 && !ReferenceEquals(s, exclude))
            {
                _scratch.Add(s);
            }
        }

        if (_scratch.Count == 0)
        {
            _testConn = exclude is not null && exclude.MaxRdy > 0 ? exclude : null;
            return;
        }

        // Longest-waiting first gives every producer its turn at testing; random among equals.
        _testConn = PickLongestWaiting(_scratch);
    }

    private ConnState PickLongestWaiting(List<ConnState> candidates)
    {
        var best = candidates[0];
        var ties = 1;
        for (var i = 1; i < candidates.Count; i++)
        {
            var c = candidates[i];
            if (c.ReleasedAt < best.ReleasedAt)
            {
                best = c;
                ties = 1;
            }
            else if (c.ReleasedAt == best.ReleasedAt && _random.Next(++ties) == 0)
            {
                best = c;
            }
        }

        return best;
    }

    /// <summary>How long the controller waits before looking again at grants held back by in-flight messages that may expire unreported.</summary>
    private static readonly TimeSpan HeldGrantRecheck = TimeSpan.FromSeconds(1);

    private DateTimeOffset HolderExpiry(ConnState s, DateTimeOffset now)
    {
        var hold = s.GrantedAt + (LowReadyIdleTimeout * HoldLimitFactor);
        var idle = IdleDeadline(s, now);
        return idle < hold ? idle : hold;
    }

    /// <summary>
    /// When <paramref name="s"/> turns idle: <see cref="LowReadyIdleTimeout"/> after its grant or its
    /// last delivery or answer, whichever is later; never while it has messages in flight (then the
    /// question is asked again one idle timeout from now).
    /// </summary>
    private DateTimeOffset IdleDeadline(ConnState s, DateTimeOffset now)
    {
        var due = Latest(s.GrantedAt, _lastActivity(s.Conn)) + LowReadyIdleTimeout;
        return due <= now && _inFlight(s.Conn) > 0 ? now + LowReadyIdleTimeout : due;
    }

    private bool IsIdle(ConnState s, DateTimeOffset now) => now >= IdleDeadline(s, now);

    /// <summary>
    /// Until when <paramref name="s"/> keeps its full share in the saturated regime: the idle timeout after
    /// its last delivery or answer (a new connection has none: it holds 1 until its first message), or
    /// one more idle timeout while it has messages in flight.
    /// </summary>
    private DateTimeOffset ActiveUntil(ConnState s, DateTimeOffset now)
    {
        if (_inFlight(s.Conn) > 0)
        {
            return now + LowReadyIdleTimeout;
        }

        return _lastActivity(s.Conn) is { } last ? last + LowReadyIdleTimeout : DateTimeOffset.MinValue;
    }

    private long Claim(ConnState s) => Math.Max(s.Rdy, _inFlight(s.Conn));

    private static DateTimeOffset Latest(DateTimeOffset a, DateTimeOffset? b) => b is { } v && v > a ? v : a;

    private void Rebalance(DateTimeOffset now)
    {
        foreach (var s in _conns.Values)
        {
            s.Target = 0;
        }

        switch (Phase)
        {
            case RdyPhase.Testing:
                if (_testConn is not null && ConnectionCount > 1 && _testConn.Rdy > 0 && IsIdle(_testConn, now))
                {
                    // The test connection may sit on a producer with nothing to send: move the test elsewhere.
                    PickTestConnection(exclude: _testConn);
                }

                if (_testConn is not null && MaxInFlight > 0)
                {
                    _testConn.Target = 1;
                }

                break;
            case RdyPhase.Flowing when ConnectionCount > MaxInFlight:
                DistributeScarce(now);
                break;
            case RdyPhase.Flowing:
                DistributeSaturated(now);
                break;
        }

        Emit(now);
    }

    /// <summary>More connections than max_in_flight: RDY 1 rotates among them.</summary>
    private void DistributeScarce(DateTimeOffset now)
    {
        long holders = 0;
        foreach (var s in _conns.Values)
        {
            s.Active = false;
            if (s.Rdy > 0 && now < HolderExpiry(s, now))
            {
                s.Target = 1;
                holders++;
            }
        }

        _scratch.Clear();
        foreach (var s in _conns.Values)
        {
            if (s.Target == 0 && s.MaxRdy > 0)
            {
                _scratch.Add(s);
            }
        }

        // A holder released in this very decision has ReleasedAt in the past until Emit updates it;
        // treat it as released now so it queues behind everyone else.
        foreach (var s in _scratch)
        {
            s.QueueKey = s.Rdy > 0 ? now : s.ReleasedAt;
        }

        var slots = MaxInFlight - holders;
        while (slots > 0 && _scratch.Count > 0)
        {
            var pick = _scratch[0];
            var index = 0;
            var ties = 1;
            for (var i = 1; i < _scratch.Count; i++)
            {
                var c = _scratch[i];
                if (c.QueueKey < pick.QueueKey)
                {
                    pick = c;
                    index = i;
                    ties = 1;
                }
                else if (c.QueueKey == pick.QueueKey && _random.Next(++ties) == 0)
                {
                    pick = c;
                    index = i;
                }
            }

            pick.Target = 1;
            _scratch.RemoveAt(index);
            slots--;
        }
    }

    /// <summary>At least as much max_in_flight as connections: new and idle ones hold 1, active ones share the rest.</summary>
    private void DistributeSaturated(DateTimeOffset now)
    {
        var budget = MaxInFlight;
        _scratch.Clear();
        foreach (var s in _conns.Values)
        {
            // Active: it had a delivery or an answer within the idle timeout, or it has messages in flight.
            s.Active = now < ActiveUntil(s, now);
            if (s.Active)
            {
                _scratch.Add(s);
            }
            else
            {
                s.Target = Math.Min(1, s.MaxRdy);
                budget -= s.Target;
            }
        }

        if (_scratch.Count == 0)
        {
            return;
        }

        // Water-filling: connections capped by their max_rdy_count leave their unused share to the others.
        _scratch.Sort(static (a, b) => a.MaxRdy != b.MaxRdy ? a.MaxRdy.CompareTo(b.MaxRdy) : a.Sequence.CompareTo(b.Sequence));
        var first = 0;
        while (first < _scratch.Count)
        {
            var s = _scratch[first];
            if (s.MaxRdy > budget / (_scratch.Count - first))
            {
                break;
            }

            s.Target = s.MaxRdy;
            budget -= s.MaxRdy;
            first++;
        }

        var open = _scratch.Count - first;
        if (open == 0)
        {
            return;
        }

        // Stable order (oldest first) so the remainder lands on the same connections every time.
        _scratch.RemoveRange(0, first);
        _scratch.Sort(static (a, b) => a.Sequence.CompareTo(b.Sequence));
        var share = budget / open;
        var extra = budget % open;
        for (var i = 0; i < _scratch.Count; i++)
        {
            _scratch[i].Target = share + (i < extra ? 1 : 0);
        }
    }

    private void Emit(DateTimeOffset now)
    {
        // Decreases first, so Σ RDY ≤ max_in_flight holds after every single command.
        foreach (var s in _conns.Values)
        {
            if (s.Target < s.Rdy)
            {
                Send(s, s.Target, now);
            }
        }

        // Increases only within what the other connections leave: each claims max(RDY, in flight),
        // because lowering a RDY does not take back messages nsqd already delivered.
        long claimed = 0;
        foreach (var s in _conns.Values)
        {
            claimed += Claim(s);
        }

        HasHeldGrants = false;
        foreach (var s in _conns.Values)
        {
            if (s.Target <= s.Rdy)
            {
                continue;
            }

            var current = Claim(s);
            var grant = Math.Min(s.Target, MaxInFlight - (claimed - current));
            if (grant < s.Target)
            {
                HasHeldGrants = true;
            }

            if (grant > s.Rdy)
            {
                claimed += Math.Max(grant, current) - current;
                Send(s, grant, now);
            }
        }
    }

    private void Send(ConnState s, long rdy, DateTimeOffset now)
    {
        if (s.Rdy == 0)
        {
            s.GrantedAt = now;
        }
        else if (rdy == 0)
        {
            s.ReleasedAt = now;
        }

        s.Rdy = rdy;
        _sendRdy(s.Conn, rdy);
    }

    private sealed class ConnState(TConn conn, long maxRdy, long sequence, DateTimeOffset addedAt)
    {
        public TConn Conn { get; } = conn;

        public long MaxRdy { get; } = maxRdy;

        public long Sequence { get; } = sequence;

        public long Rdy { get; set; }

        public long Target { get; set; }

        public bool Active { get; set; }

        public DateTimeOffset GrantedAt { get; set; } = addedAt;

        public DateTimeOffset ReleasedAt { get; set; } = addedAt;

        public DateTimeOffset QueueKey { get; set; }
    }
}
