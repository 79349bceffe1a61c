using NsqTyped.Reader;

namespace NsqTyped.Tests.Reader;

public sealed class NsqBackoffPolicyTests
{
    [Fact]
    public void Upper_bound_follows_two_to_the_n_minus_one_seconds()
    {
        var policy = new NsqBackoffPolicy(TimeSpan.FromSeconds(128));

        Assert.Equal(TimeSpan.Zero, policy.UpperBound(0));
        Assert.Equal(TimeSpan.FromSeconds(1), policy.UpperBound(1));
        Assert.Equal(TimeSpan.FromSeconds(3), policy.UpperBound(2));
        Assert.Equal(TimeSpan.FromSeconds(7), policy.UpperBound(3));
        Assert.Equal(TimeSpan.FromSeconds(127), policy.UpperBound(7));
        Assert.Equal(TimeSpan.FromSeconds(128), policy.UpperBound(8));
        Assert.Equal(TimeSpan.FromSeconds(128), policy.UpperBound(40));
    }

    [Fact]
    public void Counter_is_capped_where_the_curve_reaches_the_maximum()
    {
        Assert.Equal(8, new NsqBackoffPolicy(TimeSpan.FromSeconds(128)).MaxCounter);
        Assert.Equal(2, new NsqBackoffPolicy(TimeSpan.FromSeconds(2)).MaxCounter);
        Assert.Equal(0, new NsqBackoffPolicy(TimeSpan.Zero).MaxCounter);
    }

    [Fact]
    public void Jittered_delays_cover_the_range_below_the_bound()
    {
        var policy = new NsqBackoffPolicy(TimeSpan.FromSeconds(128));
        var random = new Random(42);
        var samples = Enumerable.Range(0, 2000).Select(_ => policy.NextDelay(4, random)).ToList();

        Assert.All(samples, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromSeconds(15)));
        Assert.Contains(samples, d => d < TimeSpan.FromSeconds(2));
        Assert.Contains(samples, d => d > TimeSpan.FromSeconds(13));
        Assert.InRange(samples.Average(d => d.TotalSeconds), 6.5, 8.5);
    }

    [Fact]
    public void Zero_maximum_disables_backoff()
    {
        var policy = new NsqBackoffPolicy(TimeSpan.Zero);

        Assert.False(policy.IsEnabled);
        Assert.Equal(TimeSpan.Zero, policy.NextDelay(5, new Random(1)));
    }
}
