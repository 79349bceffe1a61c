namespace NsqTyped.Tests.Producer;

/// <summary>The producer's bound on outstanding publishes, on its own: room by count and bytes, order, timeout, cancellation.</summary>
public sealed class OutstandingLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_publish_that_does_not_fit_waits_until_room_is_given_back()
    {
        var limit = new OutstandingLimit(maxCount: 2, maxBytes: 100);
        Assert.True(limit.EnterAsync(1, 10, Timeout.InfiniteTimeSpan, Ct).IsCompletedSuccessfully);
        Assert.True(limit.EnterAsync(1, 10, Timeout.InfiniteTimeSpan, Ct).IsCompletedSuccessfully);

        var third = limit.EnterAsync(1, 10, Timeout.InfiniteTimeSpan, Ct).AsTask();
        Assert.False(third.IsCompleted);

        limit.Exit(1, 10);
        await third.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal(2, limit.Count);
        Assert.Equal(20, limit.Bytes);
    }

    [Fact]
    public async Task Bytes_bound_as_well_and_waiters_are_let_in_first_come_first_served()
    {
        var limit = new OutstandingLimit(maxCount: 100, maxBytes: 10);
        Assert.True(limit.EnterAsync(1, 8, Timeout.InfiniteTimeSpan, Ct).IsCompletedSuccessfully);
        var big = limit.EnterAsync(1, 6, Timeout.InfiniteTimeSpan, Ct).AsTask();
        var small = limit.EnterAsync(1, 1, Timeout.InfiniteTimeSpan, Ct).AsTask();

        // The small one would fit, but waits behind the earlier big one.
        Assert.False(big.IsCompleted);
        Assert.False(small.IsCompleted);

        limit.Exit(1, 8);
        await Task.WhenAll(big, small).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal(7, limit.Bytes);
    }

    [Fact]
    public async Task A_publish_larger_than_the_byte_bound_goes_alone()
    {
        var limit = new OutstandingLimit(maxCount: 100, maxBytes: 10);
        Assert.True(limit.EnterAsync(1, 50, Timeout.InfiniteTimeSpan, Ct).IsCompletedSuccessfully);
        var next = limit.EnterAsync(1, 1, Timeout.InfiniteTimeSpan, Ct).AsTask();
        Assert.False(next.IsCompleted);

        limit.Exit(1, 50);
        await next.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task Waiting_ends_with_the_timeout_or_the_token_and_leaves_the_line()
    {
        var limit = new OutstandingLimit(maxCount: 1, maxBytes: 100);
        Assert.True(limit.EnterAsync(1, 1, Timeout.InfiniteTimeSpan, Ct).IsCompletedSuccessfully);

        await Assert.ThrowsAsync<TimeoutException>(async () => await limit.EnterAsync(1, 1, TimeSpan.FromMilliseconds(50), Ct));
        using var cancel = new CancellationTokenSource();
        var canceled = limit.EnterAsync(1, 1, Timeout.InfiniteTimeSpan, cancel.Token).AsTask();
        var after = limit.EnterAsync(1, 1, Timeout.InfiniteTimeSpan, Ct).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled.WaitAsync(TimeSpan.FromSeconds(5), Ct));

        limit.Exit(1, 1);
        await after.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal(1, limit.Count);
    }
}
