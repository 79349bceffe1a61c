namespace NsqTyped.Reader;

/// <summary>
/// gnsq's full-jitter exponential curve: after <c>n</c> consecutive failures wait
/// <c>random() × (2^n − 1) × <see cref="BaseDelay"/></c>, capped by <see cref="MaxDelay"/>.
/// One policy serves the Reader's message backoff and the reconnect delay of direct nsqd addresses.
/// </summary>
internal sealed class NsqBackoffPolicy
{
    public NsqBackoffPolicy(TimeSpan maxDelay, TimeSpan? baseDelay = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelay, TimeSpan.Zero);
        var unit = baseDelay ?? TimeSpan.FromSeconds(1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(unit, TimeSpan.Zero, nameof(baseDelay));
        MaxDelay = maxDelay;
        BaseDelay = unit;
        MaxCounter = ComputeMaxCounter(maxDelay, unit);
    }

    /// <summary>The cap; zero disables backoff altogether (gnsq <c>max_backoff_duration=0</c>).</summary>
    public TimeSpan MaxDelay { get; }

    /// <summary>One step of the curve (gnsq's ratio, 1 s).</summary>
    public TimeSpan BaseDelay { get; }

    /// <summary>Whether backoff happens at all.</summary>
    public bool IsEnabled => MaxDelay > TimeSpan.Zero;

    /// <summary>
    /// The counter never grows past the first value whose upper bound reaches <see cref="MaxDelay"/>:
    /// beyond it the wait would not grow, but recovery would need ever more successes (go-nsq caps
    /// its counter for the same reason).
    /// </summary>
    public int MaxCounter { get; }

    /// <summary>Upper bound of the wait after <paramref name="counter"/> failures: <c>(2^n − 1) × base</c>, capped.</summary>
    public TimeSpan UpperBound(int counter)
    {
        if (counter <= 0 || !IsEnabled)
        {
            return TimeSpan.Zero;
        }

        var steps = counter >= 62 ? double.MaxValue : Math.Pow(2, counter) - 1;
        var ticks = steps * BaseDelay.Ticks;
        return ticks >= MaxDelay.Ticks ? MaxDelay : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>A jittered wait in <c>[0, UpperBound(counter)]</c>.</summary>
    public TimeSpan NextDelay(int counter, Random random)
    {
        var bound = UpperBound(counter);
        return bound <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromTicks((long)(random.NextDouble() * bound.Ticks));
    }

    private static int ComputeMaxCounter(TimeSpan max, TimeSpan unit)
    {
        if (max <= TimeSpan.Zero)
        {
            return 0;
        }

        var counter = 1;
        while (counter < 62 && (Math.Pow(2, counter) - 1) * unit.Ticks < max.Ticks)
        {
            counter++;
        }

        return counter;
    }
}
