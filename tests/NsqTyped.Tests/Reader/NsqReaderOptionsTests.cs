namespace NsqTyped.Tests.Reader;

public sealed class NsqReaderOptionsTests
{
    private static readonly NsqReaderOptions Valid = new() { Topic = "orders", Channel = "billing", NsqdTcpAddresses = ["127.0.0.1:4150"] };

    private static ValueTask Ignore(NsqMessage message, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    [Fact]
    public void Defaults_are_gnsqs_except_the_retry_schedule()
    {
        var options = new NsqReaderOptions();

        Assert.Equal(5, options.MaxTries);
        Assert.Equal(1, options.MaxInFlight);
        Assert.Equal(0, options.MaxConcurrency);
        Assert.Equal(TimeSpan.FromSeconds(10), options.RequeueDelay);
        Assert.Equal(TimeSpan.FromMinutes(15), options.MaxRequeueDelay);
        Assert.Equal(TimeSpan.FromSeconds(60), options.LookupdPollInterval);
        Assert.Equal(0.3, options.LookupdPollJitter);
        Assert.Equal(TimeSpan.FromSeconds(10), options.LowReadyIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(128), options.MaxBackoffDuration);
        Assert.True(options.BackoffOnRequeue);
        Assert.False(options.ManualFinish);
    }

    [Fact]
    public void With_default_options_a_failing_message_outlives_a_60_second_outage_and_retries_within_minutes()
    {
        var options = new NsqReaderOptions();
        var delays = Enumerable.Range(1, options.MaxTries).Select(options.RequeueDelayFor).ToList();

        // Attempts 1..MaxTries run at 0, d1, d1+d2, ...; the message is given up only when attempt MaxTries fails.
        var lastAttemptAt = delays.Take(options.MaxTries - 1).Aggregate(TimeSpan.Zero, (sum, d) => sum + d);
        Assert.True(lastAttemptAt > TimeSpan.FromSeconds(60), $"the last attempt comes {lastAttemptAt} after the first failure");

        // A message that failed during a 60 s outage comes back at most one delay after its failure.
        var longestWaitDuringOutage = delays.TakeWhile((_, i) => delays.Take(i).Aggregate(TimeSpan.Zero, (s, d) => s + d) < TimeSpan.FromSeconds(60)).Max();
        Assert.True(longestWaitDuringOutage <= TimeSpan.FromMinutes(3), $"a retry waits up to {longestWaitDuringOutage}");
        Assert.Equal([10d, 20d, 40d, 80d, 160d], delays.Select(d => d.TotalSeconds));
    }

    [Fact]
    public void The_retry_schedule_doubles_up_to_its_cap_and_a_cap_equal_to_the_delay_is_gnsqs_fixed_delay()
    {
        var growing = Valid with { RequeueDelay = TimeSpan.FromSeconds(1), MaxRequeueDelay = TimeSpan.FromSeconds(5) };
        Assert.Equal([1d, 2d, 4d, 5d, 5d], Enumerable.Range(1, 5).Select(a => growing.RequeueDelayFor(a).TotalSeconds));

        var fixedDelay = Valid with { RequeueDelay = TimeSpan.FromSeconds(3), MaxRequeueDelay = TimeSpan.FromSeconds(3) };
        Assert.All(Enumerable.Range(1, 5), a => Assert.Equal(TimeSpan.FromSeconds(3), fixedDelay.RequeueDelayFor(a)));

        var immediate = Valid with { RequeueDelay = TimeSpan.Zero };
        Assert.Equal(TimeSpan.Zero, immediate.RequeueDelayFor(5));
    }

    [Theory]
    [InlineData("", "c")]
    [InlineData("bad topic", "c")]
    [InlineData("t", "")]
    [InlineData("t", "chan/nel")]
    [InlineData("t", "a-channel-name-that-is-far-too-long-for-nsqd-to-accept-it-at-all-really")]
    public void Invalid_topic_or_channel_is_an_argument_exception(string topic, string channel)
    {
        var options = Valid with { Topic = topic, Channel = channel };

        Assert.ThrowsAny<ArgumentException>(() => new NsqReader(options, Ignore));
    }

    [Fact]
    public void At_least_one_address_is_required()
    {
        var options = Valid with { NsqdTcpAddresses = [], LookupdHttpAddresses = [] };

        var error = Assert.ThrowsAny<ArgumentException>(() => new NsqReader(options, Ignore));
        Assert.Contains("at least one", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("127.0.0.1:notaport")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("")]
    public void Malformed_nsqd_address_is_rejected(string address)
    {
        Assert.ThrowsAny<ArgumentException>(() => new NsqReader(Valid with { NsqdTcpAddresses = [address] }, Ignore));
    }

    [Fact]
    public void Malformed_lookupd_address_is_rejected()
    {
        Assert.ThrowsAny<ArgumentException>(() => new NsqReader(Valid with { LookupdHttpAddresses = ["ftp://lookupd:4161"] }, Ignore));
    }

    [Fact]
    public void Out_of_range_numbers_are_rejected()
    {
        Assert.ThrowsAny<ArgumentException>(() => new NsqReader(Valid with { MaxInFlight = 0 }, Ignore));
        Assert.ThrowsAny<ArgumentException>(() => new NsqReader(Valid with { MaxTries = -1 }, Ignore));
        Assert.ThrowsAny<ArgumentException>(() => new NsqReader(Valid with { MaxConcurrency = -2 }, Ignore));
        Assert.ThrowsAny<ArgumentException>(() => new NsqReader(Valid with { RequeueDelay = TimeSpan.FromSeconds(-1) }, Ignore));
        Assert.ThrowsAny<ArgumentException>(() => new NsqReader(Valid with { LookupdPollJitter = 1.5 }, Ignore));
        Assert.ThrowsAny<ArgumentException>(() => new NsqReader(Valid with { LowReadyIdleTimeout = TimeSpan.Zero }, Ignore));
        Assert.ThrowsAny<ArgumentException>(() => new NsqReader(Valid with { MaxBackoffDuration = TimeSpan.FromSeconds(-1) }, Ignore));
    }

    [Fact]
    public void Invalid_connection_options_are_rejected_before_any_io()
    {
        var options = Valid with { Connection = NsqdConnectionOptions.Default with { Snappy = true, Deflate = true } };

        Assert.ThrowsAny<ArgumentException>(() => new NsqReader(options, Ignore));
    }

    [Fact]
    public void Read_all_needs_a_reader_without_handler()
    {
        var reader = new NsqReader(Valid, Ignore);

        Assert.Throws<InvalidOperationException>(() => reader.ReadAllAsync(TestContext.Current.CancellationToken).GetAsyncEnumerator(TestContext.Current.CancellationToken).MoveNextAsync().AsTask().GetAwaiter().GetResult());
    }

    [Fact]
    public async Task A_reader_starts_once()
    {
        await using var reader = new NsqReader(Valid with { NsqdTcpAddresses = ["127.0.0.1:1"] }, Ignore);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        Assert.True(reader.IsRunning);
        await Assert.ThrowsAsync<InvalidOperationException>(() => reader.StartAsync(TestContext.Current.CancellationToken).AsTask());
    }

    [Fact]
    public async Task Closing_an_unstarted_reader_completes_it_and_raises_closed()
    {
        var reader = new NsqReader(Valid, Ignore);
        var closed = 0;
        reader.Closed += (_, _) => closed++;

        await reader.CloseAsync(TestContext.Current.CancellationToken);

        Assert.True(reader.Completion.IsCompleted);
        Assert.False(reader.IsRunning);
        Assert.Equal(1, closed);
    }

    [Fact]
    public async Task Publishing_without_a_connection_fails_clearly()
    {
        await using var reader = new NsqReader(Valid, Ignore);

        await Assert.ThrowsAsync<NsqConnectionException>(() => reader.PublishAsync("t", new byte[] { 1 }, TestContext.Current.CancellationToken).AsTask());
    }

    [Fact]
    public void A_dispatcher_for_another_topic_is_rejected()
    {
        var dispatcher = new FixedDispatcher("other", "billing");

        var error = Assert.ThrowsAny<ArgumentException>(() => new NsqReader(Valid, dispatcher));
        Assert.Contains("other", error.Message, StringComparison.Ordinal);
    }

    private sealed class FixedDispatcher(string topic, string channel) : INsqHandlerDispatcher
    {
        public string Topic => topic;

        public string Channel => channel;

        public Type MessageType => typeof(byte[]);

        public string HandlerName => "Tests.Fixed";

        public ValueTask DispatchAsync(NsqMessage message, IServiceProvider? services, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
