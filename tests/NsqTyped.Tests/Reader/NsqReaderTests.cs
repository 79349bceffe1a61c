using System.Collections.Concurrent;
using NsqTyped.Reader;
using NsqTyped.Tests.Support;
using static NsqTyped.Tests.Reader.ReaderTestKit;

namespace NsqTyped.Tests.Reader;

/// <summary>Reader behaviour against one nsqd: the embedded one, or a real one from the environment.</summary>
public sealed class NsqReaderTests(NsqTestServers servers)
{
    private readonly string _topic = NsqTestServers.UniqueTopic("reader");
    private readonly string _channel = NsqTestServers.UniqueChannel("ch");

    private NsqReaderOptions Options => Fast(_topic, _channel) with { NsqdTcpAddresses = [servers.NsqdTcpAddress] };

    private Task<NsqdChannelStats?> StatsAsync() => ChannelStatsAsync(servers.NsqdHttpAddress.ToString(), _topic, _channel);

    [Fact]
    public async Task Reader_finishes_every_message_its_handler_accepts()
    {
        var seen = new ConcurrentDictionary<string, int>();
        await using var reader = new NsqReader(Options with { MaxInFlight = 20 }, (m, _) =>
        {
            seen.AddOrUpdate(Text(m), 1, (_, n) => n + 1);
            return ValueTask.CompletedTask;
        });
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 200);

        await WaitUntilAsync(() => seen.Count == 200, "every message handled");
        await WaitUntilAsync(async () => await StatsAsync() is { Depth: 0, InFlightCount: 0 }, "nothing left on the server");
        Assert.All(seen.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task Reader_requeues_with_requeue_delay_when_the_handler_throws()
    {
        var delay = TimeSpan.FromMilliseconds(400);
        var deliveries = new ConcurrentQueue<(DateTimeOffset At, int Attempts)>();
        var exceptions = new ConcurrentQueue<NsqHandlerExceptionEventArgs>();
        var requeues = new ConcurrentQueue<NsqRequeuedEventArgs>();
        var boom = new InvalidOperationException("boom");
        await using var reader = new NsqReader(Options with { RequeueDelay = delay, MaxBackoffDuration = TimeSpan.Zero }, (m, _) =>
        {
            deliveries.Enqueue((DateTimeOffset.UtcNow, m.Attempts));
            return m.Attempts == 1 ? throw boom : ValueTask.CompletedTask;
        });
        reader.HandlerException += (_, e) => exceptions.Enqueue(e);
        reader.Requeued += (_, e) => requeues.Enqueue(e);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 1);

        await WaitUntilAsync(() => deliveries.Count == 2, "the message is redelivered");
        var list = deliveries.ToArray();
        Assert.Equal([1, 2], list.Select(d => d.Attempts));
        Assert.True(list[1].At - list[0].At >= delay - TimeSpan.FromMilliseconds(50), $"redelivered after {(list[1].At - list[0].At).TotalMilliseconds} ms");
        var exception = Assert.Single(exceptions);
        Assert.Same(boom, exception.Error);
        Assert.Equal(1, exception.Message.Attempts);
        var requeued = Assert.Single(requeues);
        Assert.Equal(exception.Message.Id, requeued.MessageId);
        Assert.Equal(delay, requeued.Delay);
        Assert.True(requeued.Backoff);
    }

    [Fact]
    public async Task Requeue_exception_carries_its_own_delay_and_backoff_flag()
    {
        var requeues = new ConcurrentQueue<NsqRequeuedEventArgs>();
        var exceptions = 0;
        var attempts = new ConcurrentQueue<int>();
        await using var reader = new NsqReader(Options, (m, _) =>
        {
            attempts.Enqueue(m.Attempts);
            return m.Attempts == 1 ? throw new NsqRequeueException(TimeSpan.FromMilliseconds(150), backoff: false) : ValueTask.CompletedTask;
        });
        reader.HandlerException += (_, _) => Interlocked.Increment(ref exceptions);
        reader.Requeued += (_, e) => requeues.Enqueue(e);
        var recorder = new RdyRecorder(reader);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 1);

        await WaitUntilAsync(() => attempts.Count == 2, "the message is redelivered");
        var requeued = Assert.Single(requeues);
        Assert.Equal(TimeSpan.FromMilliseconds(150), requeued.Delay);
        Assert.False(requeued.Backoff);
        Assert.Equal(0, Volatile.Read(ref exceptions));
        Assert.Empty(recorder.PhasesSnapshot());
    }

    [Fact]
    public async Task Reader_gives_up_after_max_tries_and_calls_the_hook()
    {
        var handled = new ConcurrentQueue<int>();
        var givingUp = new ConcurrentQueue<NsqGivingUpEventArgs>();
        var hooked = new TaskCompletionSource<NsqMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = Options with
        {
            MaxTries = 3,
            MaxBackoffDuration = TimeSpan.Zero,
            GivingUpHook = (m, _) =>
            {
                hooked.TrySetResult(m);
                return ValueTask.CompletedTask;
            },
        };
        await using var reader = new NsqReader(options, (m, _) =>
        {
            handled.Enqueue(m.Attempts);
            throw new InvalidOperationException("always fails");
        });
        reader.GivingUp += (_, e) => givingUp.Enqueue(e);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 1);

        var dead = await hooked.Task.WaitAsync(WaitLimit, TestContext.Current.CancellationToken);
        Assert.Equal(4, dead.Attempts);
        Assert.Equal([1, 2, 3], handled.ToArray());
        var e = Assert.Single(givingUp);
        Assert.Same(dead, e.Message);
        await WaitUntilAsync(async () => await StatsAsync() is { Depth: 0, InFlightCount: 0 }, "the given-up message is finished");
        Assert.Equal(3, handled.Count);
    }

    [Fact]
    public async Task Manual_mode_leaves_messages_in_flight_until_the_application_answers()
    {
        var held = new ConcurrentQueue<NsqMessage>();
        await using var reader = new NsqReader(Options with { MaxInFlight = 10, ManualFinish = true }, (m, _) =>
        {
            held.Enqueue(m);
            return ValueTask.CompletedTask;
        });
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 5);

        await WaitUntilAsync(() => held.Count == 5, "every message handed to the handler");
        await WaitUntilAsync(async () => await StatsAsync() is { InFlightCount: 5 }, "handled messages stay in flight");
        Assert.All(held, m => Assert.False(m.HasResponded));

        foreach (var message in held)
        {
            await message.FinishAsync(TestContext.Current.CancellationToken);
        }

        await WaitUntilAsync(async () => await StatsAsync() is { Depth: 0, InFlightCount: 0 }, "the application finished them");
    }

    [Fact]
    public async Task Handlers_never_run_more_than_max_concurrency_at_once()
    {
        var running = 0;
        var peak = 0;
        var done = 0;
        await using var reader = new NsqReader(Options with { MaxInFlight = 30, MaxConcurrency = 3 }, async (_, ct) =>
        {
            var now = Interlocked.Increment(ref running);
            int before;
            while ((before = Volatile.Read(ref peak)) < now && Interlocked.CompareExchange(ref peak, now, before) != before)
            {
            }

            await Task.Delay(15, ct);
            Interlocked.Decrement(ref running);
            Interlocked.Increment(ref done);
        });
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 60);

        await WaitUntilAsync(() => Volatile.Read(ref done) == 60, "every message handled");
        Assert.Equal(3, Volatile.Read(ref peak));
    }

    [Fact]
    public async Task Graceful_close_loses_nothing_and_leaves_nothing_in_flight()
    {
        const int published = 300;
        var finished = new ConcurrentDictionary<string, bool>();
        var handled = 0;
        var reader = new NsqReader(Options with { MaxInFlight = 50, MaxConcurrency = 4 }, async (m, ct) =>
        {
            Interlocked.Increment(ref handled);
            await Task.Delay(5, ct);
        });
        reader.Finished += (_, e) => finished[e.MessageId.ToString()] = true;
        var closed = 0;
        reader.Closed += (_, _) => Interlocked.Increment(ref closed);
        await reader.StartAsync(TestContext.Current.CancellationToken);
        await PublishAsync(servers.NsqdTcpAddress, _topic, published);
        await WaitUntilAsync(() => Volatile.Read(ref handled) >= 60, "the reader is busy");

        await reader.CloseAsync(TestContext.Current.CancellationToken);

        Assert.False(reader.IsRunning);
        Assert.True(reader.Completion.IsCompletedSuccessfully);
        Assert.Equal(1, Volatile.Read(ref closed));
        var stats = await StatsAsync();
        Assert.NotNull(stats);
        Assert.Equal(0, stats.InFlightCount);
        Assert.Equal(published, finished.Count + stats.Depth + stats.DeferredCount);
        Assert.Equal(Volatile.Read(ref handled), finished.Count);

        // A second reader drains the rest: every published message was finished exactly once overall.
        var rest = new ConcurrentDictionary<string, bool>();
        await using var second = new NsqReader(Options with { MaxInFlight = 50 }, (m, _) => ValueTask.CompletedTask);
        second.Finished += (_, e) => rest[e.MessageId.ToString()] = true;
        await second.StartAsync(TestContext.Current.CancellationToken);
        await WaitUntilAsync(() => finished.Count + rest.Count == published, "the rest is consumed by another reader");
        Assert.Empty(finished.Keys.Intersect(rest.Keys));
    }

    [Fact]
    public async Task Close_is_bounded_by_its_token_when_a_handler_hangs()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handlerCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var reader = new NsqReader(Options, async (_, ct) =>
        {
            started.TrySetResult();
            try
            {
                await Task.Delay(System.Threading.Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                handlerCancelled.TrySetResult();
                throw;
            }
        });
        await reader.StartAsync(TestContext.Current.CancellationToken);
        await PublishAsync(servers.NsqdTcpAddress, _topic, 1);
        await started.Task.WaitAsync(WaitLimit, TestContext.Current.CancellationToken);

        using var bound = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await reader.CloseAsync(bound.Token).AsTask().WaitAsync(WaitLimit, TestContext.Current.CancellationToken);

        await handlerCancelled.Task.WaitAsync(WaitLimit, TestContext.Current.CancellationToken);
        Assert.True(reader.Completion.IsCompleted);
    }

    [Fact]
    public async Task Events_carry_gnsqs_arguments()
    {
        var received = new ConcurrentQueue<NsqMessage>();
        var finished = new ConcurrentQueue<NsqFinishedEventArgs>();
        var responses = new ConcurrentQueue<string>();
        var closed = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var handledIds = new ConcurrentQueue<string>();
        var reader = new NsqReader(Options, (m, _) =>
        {
            handledIds.Enqueue(m.Id.ToString());
            return ValueTask.CompletedTask;
        });
        reader.MessageReceived += (sender, e) =>
        {
            Assert.Same(reader, sender);
            received.Enqueue(e.Message);
        };
        reader.Finished += (_, e) => finished.Enqueue(e);
        reader.Response += (_, e) => responses.Enqueue(e.ToString());
        reader.Closed += (sender, _) => closed.TrySetResult(sender);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 1, prefix: "hello");

        await WaitUntilAsync(() => finished.Count == 1, "the message is finished");
        var message = Assert.Single(received);
        Assert.Equal("hello0", Text(message));
        Assert.Equal(1, message.Attempts);
        Assert.True(message.HasResponded);
        Assert.Equal(message.Id, Assert.Single(finished).MessageId);
        Assert.Equal(message.Id.ToString(), Assert.Single(handledIds));
        Assert.Contains("OK", responses);

        await reader.CloseAsync(TestContext.Current.CancellationToken);
        Assert.Same(reader, await closed.Task.WaitAsync(WaitLimit, TestContext.Current.CancellationToken));
        Assert.Contains("CLOSE_WAIT", responses);
    }

    [Fact]
    public async Task Pull_mode_yields_messages_the_application_finishes()
    {
        await using var reader = new NsqReader(Options with { MaxInFlight = 10 });
        await reader.StartAsync(TestContext.Current.CancellationToken);
        await PublishAsync(servers.NsqdTcpAddress, _topic, 20);

        var bodies = new List<string>();
        await foreach (var message in reader.ReadAllAsync(TestContext.Current.CancellationToken))
        {
            bodies.Add(Text(message));
            await message.FinishAsync(TestContext.Current.CancellationToken);
            if (bodies.Count == 20)
            {
                break;
            }
        }

        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}").Order(), bodies.Order());
        await WaitUntilAsync(async () => await StatsAsync() is { Depth: 0, InFlightCount: 0 }, "every message finished");
    }

    [Fact]
    public async Task Reader_publishes_through_its_own_connection()
    {
        var got = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var reader = new NsqReader(Options, (m, _) =>
        {
            got.TrySetResult(Text(m));
            return ValueTask.CompletedTask;
        });
        await reader.StartAsync(TestContext.Current.CancellationToken);
        await WaitUntilAsync(() => reader.Connections.Count == 1, "subscribed");

        await reader.PublishAsync(_topic, "via-reader"u8.ToArray(), TestContext.Current.CancellationToken);

        Assert.Equal("via-reader", await got.Task.WaitAsync(WaitLimit, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Reader_is_starved_when_its_rdy_window_is_in_flight()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inHandler = 0;
        await using var reader = new NsqReader(Options with { MaxInFlight = 4, MaxConcurrency = 4, ManualFinish = true }, async (m, _) =>
        {
            Interlocked.Increment(ref inHandler);
            await release.Task;
            await m.FinishAsync();
        });
        await reader.StartAsync(TestContext.Current.CancellationToken);
        Assert.False(reader.IsStarved);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 10);

        await WaitUntilAsync(() => Volatile.Read(ref inHandler) == 4, "the window is full");
        Assert.True(reader.IsStarved);
        release.SetResult();
        await WaitUntilAsync(async () => await StatsAsync() is { Depth: 0, InFlightCount: 0 }, "all consumed");
        Assert.False(reader.IsStarved);
    }

    [Fact]
    public async Task Failures_back_off_then_successes_recover_full_flow()
    {
        var failuresLeft = 2;
        var handled = 0;
        var options = Options with { MaxInFlight = 5, MaxBackoffDuration = TimeSpan.FromMilliseconds(600) };
        await using var reader = new NsqReader(options, (_, _) =>
        {
            Interlocked.Increment(ref handled);
            return Interlocked.Decrement(ref failuresLeft) >= 0 ? throw new InvalidOperationException("downstream down") : ValueTask.CompletedTask;
        });
        var recorder = new RdyRecorder(reader);
        var published = new ConcurrentQueue<NsqBackoffEventArgs>();
        reader.BackoffChanged += (_, e) => published.Enqueue(e);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 20);

        await WaitUntilAsync(() => Volatile.Read(ref handled) >= 22, "every message handled after the failures");

        // Recovery is paid for in successes, and results that land while the backoff timer runs are
        // ignored (as in go-nsq): how many of the 20 counted depends on scheduling. Keep feeding
        // messages until the reader is flowing again, bounded, instead of hoping 20 were enough.
        bool Flowing() => recorder.PhasesSnapshot() is { Count: > 0 } p && p[^1].Phase == RdyPhase.Flowing;
        for (var round = 0; !Flowing() && round < 10; round++)
        {
            try
            {
                await WaitUntilAsync(Flowing, "backoff ends in full flow", TimeSpan.FromSeconds(2));
            }
            catch (Exception) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
            {
                await PublishAsync(servers.NsqdTcpAddress, _topic, 5, prefix: $"more{round}-");
            }
        }

        Assert.True(
            Flowing(),
            $"Backoff did not end in full flow. Phases: {string.Join(" | ", recorder.PhasesSnapshot())}; RDY sent: {string.Join(",", recorder.History.Select(h => h.Rdy))}; handled {Volatile.Read(ref handled)}.");
        var phases = recorder.PhasesSnapshot();
        Assert.Equal(RdyPhase.BackingOff, phases[0].Phase);
        Assert.Contains(phases, p => p.Phase == RdyPhase.Testing);
        Assert.True(phases.Max(p => p.Counter) >= 1);
        Assert.Equal(0, phases[^1].Counter);
        Assert.Empty(recorder.Violations);

        // The public event and properties tell the same story.
        await WaitUntilAsync(() => published.Count == recorder.PhasesSnapshot().Count, "every backoff change published");
        Assert.Equal(recorder.PhasesSnapshot().Select(p => ((int)p.Phase, p.Counter)), published.Select(e => ((int)e.Phase, e.Counter)));
        Assert.All(published.Where(e => e.Phase == NsqBackoffPhase.BackingOff), e => Assert.NotNull(e.Until));
        Assert.Equal((NsqBackoffPhase.Flowing, 0), (reader.BackoffPhase, reader.BackoffCounter));

        // Backing off meant RDY 0; flowing again, the whole window came back.
        var rdy = recorder.History.Select(h => h.Rdy).ToList();
        var pause = rdy.IndexOf(0);
        Assert.True(pause > 0, "a failure sent RDY 0");
        Assert.Equal(1, rdy[pause + 1]);
        Assert.Contains(5, rdy.Skip(pause + 1));
    }

    [Fact]
    public async Task After_the_first_failure_nsqd_delivers_nothing_beyond_what_was_already_in_flight()
    {
        const int window = 10;
        var calls = new ConcurrentQueue<(int Attempts, bool TestingSeen)>();
        NsqReader? self = null;
        RdyRecorder? recorder = null;
        var options = Options with { MaxInFlight = window, MaxConcurrency = 1, RequeueDelay = TimeSpan.Zero, MaxBackoffDuration = TimeSpan.FromSeconds(2) };
        await using var reader = self = new NsqReader(options, (m, _) =>
        {
            calls.Enqueue((m.Attempts, recorder!.PhasesSnapshot().Any(p => p.Phase == RdyPhase.Testing)));
            throw new InvalidOperationException("downstream down");
        });
        recorder = new RdyRecorder(reader);

        // Fill the window before the handler sees anything, so every failure has a full window behind it.
        await PublishAsync(servers.NsqdTcpAddress, _topic, 50);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await WaitUntilAsync(() => recorder.PhasesSnapshot().Any(p => p.Phase == RdyPhase.Testing), "the first backoff ends in a test");
        await WaitUntilAsync(() => calls.Count >= 2, "the failures ran");
        var beforeTesting = calls.Where(c => !c.TestingSeen).ToList();

        // RDY 0 went out with the first REQ: no failed message came back, and no new one arrived, before the test RDY 1.
        Assert.All(beforeTesting, c => Assert.Equal(1, c.Attempts));
        Assert.InRange(beforeTesting.Count, 1, window);
        Assert.Empty(recorder.Violations);
    }

    [Fact]
    public Task An_outage_of_six_requeue_delays_loses_nothing_with_the_default_schedule_scaled_down_100_times() =>
        OutageLosesNothingAsync(Scaled(new NsqReaderOptions(), 100), outage: TimeSpan.FromMilliseconds(600), messages: 20);

    /// <summary>The issue's scenario in real time with default options (about 2 minutes): run it by hand, against a real nsqd too.</summary>
    [Fact(Explicit = true)]
    public Task A_60_second_outage_loses_nothing_with_default_options() =>
        OutageLosesNothingAsync(
            new NsqReaderOptions { Topic = _topic, Channel = _channel, NsqdTcpAddresses = [servers.NsqdTcpAddress] },
            outage: TimeSpan.FromSeconds(60),
            messages: 20,
            limit: TimeSpan.FromMinutes(6));

    private static NsqReaderOptions Scaled(NsqReaderOptions defaults, int factor) => defaults with
    {
        RequeueDelay = defaults.RequeueDelay / factor,
        MaxRequeueDelay = defaults.MaxRequeueDelay / factor,
        MaxBackoffDuration = defaults.MaxBackoffDuration / factor,
        LowReadyIdleTimeout = defaults.LowReadyIdleTimeout / factor,
    };

    private async Task OutageLosesNothingAsync(NsqReaderOptions options, TimeSpan outage, int messages, TimeSpan? limit = null)
    {
        options = options with { Topic = _topic, Channel = _channel, NsqdTcpAddresses = [servers.NsqdTcpAddress] };
        var handled = new ConcurrentDictionary<string, int>();
        var failures = 0;
        var givenUp = new ConcurrentQueue<NsqMessage>();
        var downUntil = long.MaxValue;
        await using var reader = new NsqReader(options, (m, _) =>
        {
            if (Environment.TickCount64 < Volatile.Read(ref downUntil))
            {
                Interlocked.Increment(ref failures);
                throw new InvalidOperationException("downstream is down");
            }

            handled[Text(m)] = m.Attempts;
            return ValueTask.CompletedTask;
        });
        reader.GivingUp += (_, e) => givenUp.Enqueue(e.Message);
        await PublishAsync(servers.NsqdTcpAddress, _topic, messages);
        Interlocked.Exchange(ref downUntil, Environment.TickCount64 + (long)outage.TotalMilliseconds);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await WaitUntilAsync(() => handled.Count == messages || !givenUp.IsEmpty, "every message handled after the outage", limit ?? WaitLimit);

        Assert.Empty(givenUp);
        Assert.Equal(messages, handled.Count);
        Assert.True(Volatile.Read(ref failures) > 0, "the outage made the handler fail");
    }

    [Fact]
    public async Task A_permanent_failure_is_given_up_at_once_without_backoff_and_without_retries()
    {
        var calls = 0;
        var givenUp = new ConcurrentQueue<NsqGivingUpEventArgs>();
        var backoffs = new ConcurrentQueue<NsqBackoffEventArgs>();
        var deadTopic = _topic + ".dead";
        await using var dead = await TestConsumer.StartAsync(servers.NsqdTcpAddress, deadTopic, "audit");
        await using var reader = new NsqReader(Options with { DeadLetterTopic = deadTopic }, (m, _) =>
        {
            Interlocked.Increment(ref calls);
            throw new NsqPermanentFailureException("the order references a customer that does not exist");
        });
        reader.GivingUp += (_, e) => givenUp.Enqueue(e);
        reader.BackoffChanged += (_, e) => backoffs.Enqueue(e);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 1, prefix: "poison");

        var copy = await dead.NextAsync(WaitLimit);
        Assert.Equal("poison0", Text(copy));
        await WaitUntilAsync(async () => await StatsAsync() is { Depth: 0, InFlightCount: 0, DeferredCount: 0 }, "the poison message is finished");
        Assert.Equal(1, Volatile.Read(ref calls));
        Assert.IsType<NsqPermanentFailureException>(Assert.Single(givenUp).Reason);
        Assert.Empty(backoffs);
        Assert.Equal((NsqBackoffPhase.Flowing, 0), (reader.BackoffPhase, reader.BackoffCounter));
    }

    [Fact]
    public async Task Giving_up_after_max_tries_dead_letters_the_body_before_finishing()
    {
        var deadTopic = _topic + ".dead";
        await using var dead = await TestConsumer.StartAsync(servers.NsqdTcpAddress, deadTopic, "audit");
        var attempts = new ConcurrentQueue<int>();
        await using var reader = new NsqReader(Options with { MaxTries = 2, MaxBackoffDuration = TimeSpan.Zero, DeadLetterTopic = deadTopic }, (m, _) =>
        {
            attempts.Enqueue(m.Attempts);
            throw new InvalidOperationException("always fails");
        });
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 1, prefix: "doomed");

        Assert.Equal("doomed0", Text(await dead.NextAsync(WaitLimit)));
        await WaitUntilAsync(async () => await StatsAsync() is { Depth: 0, InFlightCount: 0, DeferredCount: 0 }, "the given-up message is finished");
        Assert.Equal([1, 2], attempts.ToArray());
    }

    [Fact]
    public async Task A_dead_letter_publish_that_fails_requeues_the_message_and_never_finishes_it()
    {
        var deadTopic = _topic + ".dead";
        await using var dead = await TestConsumer.StartAsync(servers.NsqdTcpAddress, deadTopic, "audit");
        await using var publisher = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: TestContext.Current.CancellationToken);
        var flaky = new FlakyPublisher(publisher, failures: 1);
        var requeues = new ConcurrentQueue<NsqRequeuedEventArgs>();
        var finished = 0;
        var options = Options with { MaxTries = 1, MaxBackoffDuration = TimeSpan.Zero, DeadLetterTopic = deadTopic, DeadLetterPublisher = flaky };
        await using var reader = new NsqReader(options, (_, _) => throw new InvalidOperationException("always fails"));
        reader.Requeued += (_, e) => requeues.Enqueue(e);
        reader.Finished += (_, _) => Interlocked.Increment(ref finished);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 1, prefix: "kept");

        // Attempt 1 fails (REQ 0); attempt 2 is given up, its dead-letter publish fails: REQ again, not FIN.
        await WaitUntilAsync(() => requeues.Count >= 2, "requeued after the failed dead-letter publish");
        Assert.Equal(0, Volatile.Read(ref finished));
        var afterFailedPublish = requeues.ToArray()[1];
        Assert.False(afterFailedPublish.Backoff);
        Assert.True(afterFailedPublish.Delay >= TimeSpan.FromSeconds(1), $"requeued with {afterFailedPublish.Delay}");

        // Attempt 3: the publisher works again; the copy goes out, then the message is finished.
        Assert.Equal("kept0", Text(await dead.NextAsync(WaitLimit)));
        await WaitUntilAsync(async () => await StatsAsync() is { Depth: 0, InFlightCount: 0, DeferredCount: 0 }, "finished after the copy was published");
        Assert.Equal(1, Volatile.Read(ref finished));
        Assert.Equal(2, flaky.Calls);
    }

    private sealed class FlakyPublisher(INsqPublisher inner, int failures) : INsqPublisher
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
            Interlocked.Increment(ref _calls) <= failures
                ? ValueTask.FromException(new NsqConnectionException("dead-letter nsqd unreachable"))
                : inner.PublishAsync(topic, body, cancellationToken);

        public ValueTask PublishManyAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public ValueTask PublishDeferredAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();
    }

    [Fact]
    public async Task A_typed_dispatcher_runs_on_the_reader_and_its_failures_requeue()
    {
        var dispatcher = new RecordingDispatcher(_topic, _channel);
        await using var reader = new NsqReader(Options with { Topic = "", Channel = "", MaxBackoffDuration = TimeSpan.Zero }, dispatcher);
        Assert.Equal(_topic, reader.Options.Topic);
        await reader.StartAsync(TestContext.Current.CancellationToken);

        await PublishAsync(servers.NsqdTcpAddress, _topic, 1, prefix: "fail-once");

        await WaitUntilAsync(() => dispatcher.Calls.Count == 2, "dispatched, failed, redelivered, dispatched");
        Assert.Equal([1, 2], dispatcher.Calls.Select(c => (int)c.Attempts));
        await WaitUntilAsync(async () => await StatsAsync() is { Depth: 0, InFlightCount: 0 }, "finished after the second dispatch");
    }

    [Fact]
    public async Task Error_event_reports_a_finish_nsqd_refuses()
    {
        var deliveries = new ConcurrentQueue<NsqMessage>();
        var errors = new ConcurrentQueue<NsqErrorEventArgs>();
        var options = Options with
        {
            ManualFinish = true,
            MaxInFlight = 2,
            Connection = Options.Connection with { MsgTimeout = TimeSpan.FromSeconds(1) },
        };
        await using var reader = new NsqReader(options, (m, _) =>
        {
            deliveries.Enqueue(m);
            return ValueTask.CompletedTask;
        });
        reader.Error += (sender, e) =>
        {
            Assert.Same(reader, sender);
            errors.Enqueue(e);
        };
        await reader.StartAsync(TestContext.Current.CancellationToken);
        await PublishAsync(servers.NsqdTcpAddress, _topic, 1);

        // Not answered within msg_timeout: nsqd times it out and delivers it again, under the same id.
        await WaitUntilAsync(() => deliveries.Count == 2, "redelivered after the message timeout");
        Assert.Equal(deliveries.First().Id, deliveries.Last().Id);

        // The first FIN finishes the redelivery; the second has nothing left to finish.
        await deliveries.First().FinishAsync(TestContext.Current.CancellationToken);
        await deliveries.Last().FinishAsync(TestContext.Current.CancellationToken);

        await WaitUntilAsync(() => !errors.IsEmpty, "nsqd refuses the second FIN");
        var error = Assert.Single(errors).Error;
        Assert.NotNull(error);
        Assert.Equal("E_FIN_FAILED", error.CodeText);
        Assert.False(error.IsFatal);
        await WaitUntilAsync(async () => await StatsAsync() is { Depth: 0, InFlightCount: 0 }, "the message is finished");
    }

    [Fact]
    public async Task Close_requeues_buffered_messages_at_once_and_waits_for_the_running_handler()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = 0;
        var requeues = new ConcurrentQueue<NsqRequeuedEventArgs>();
        var reader = new NsqReader(Options with { MaxInFlight = 10, MaxConcurrency = 1 }, async (_, _) =>
        {
            Interlocked.Increment(ref started);
            await release.Task;
        });
        reader.Requeued += (_, e) => requeues.Enqueue(e);
        var recorder = new RdyRecorder(reader);
        await reader.StartAsync(TestContext.Current.CancellationToken);
        await PublishAsync(servers.NsqdTcpAddress, _topic, 10);
        await WaitUntilAsync(async () => Volatile.Read(ref started) == 1 && await StatsAsync() is { InFlightCount: 10 }, "one running, nine buffered");

        var closing = reader.CloseAsync(TestContext.Current.CancellationToken).AsTask();

        await WaitUntilAsync(() => requeues.Count == 9, "the nine buffered messages are requeued");
        Assert.All(requeues, r => Assert.Equal((TimeSpan.Zero, false), (r.Delay, r.Backoff)));
        Assert.Equal(0, recorder.Total);
        Assert.False(closing.IsCompleted, "close waits for the running handler");
        release.SetResult();
        await closing.WaitAsync(WaitLimit, TestContext.Current.CancellationToken);

        Assert.Equal(1, Volatile.Read(ref started));
        await WaitUntilAsync(async () => await StatsAsync() is { InFlightCount: 0, Depth: 9 }, "one finished, nine back in the queue");
    }

    [Fact]
    public async Task Close_in_manual_mode_waits_for_the_application_to_answer()
    {
        var held = new TaskCompletionSource<NsqMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reader = new NsqReader(Options with { ManualFinish = true }, (m, _) =>
        {
            held.TrySetResult(m);
            return ValueTask.CompletedTask;
        });
        var recorder = new RdyRecorder(reader);
        await reader.StartAsync(TestContext.Current.CancellationToken);
        await PublishAsync(servers.NsqdTcpAddress, _topic, 1);
        var message = await held.Task.WaitAsync(WaitLimit, TestContext.Current.CancellationToken);

        var closing = reader.CloseAsync(TestContext.Current.CancellationToken).AsTask();
        await WaitUntilAsync(() => recorder.Commands > 1 && recorder.Total == 0, "RDY 0 sent");
        Assert.False(closing.IsCompleted, "close waits for the held message");

        await message.FinishAsync(TestContext.Current.CancellationToken);
        await closing.WaitAsync(WaitLimit, TestContext.Current.CancellationToken);

        var stats = await StatsAsync();
        Assert.Equal((0L, 0L), (stats!.Depth, stats.InFlightCount));
    }

    [Fact]
    public async Task Pull_mode_enumeration_ends_when_the_reader_closes()
    {
        var reader = new NsqReader(Options);
        await reader.StartAsync(TestContext.Current.CancellationToken);
        var count = 0;
        var enumeration = Task.Run(async () =>
        {
            await foreach (var message in reader.ReadAllAsync(TestContext.Current.CancellationToken))
            {
                await message.FinishAsync();
                Interlocked.Increment(ref count);
            }
        }, TestContext.Current.CancellationToken);
        await PublishAsync(servers.NsqdTcpAddress, _topic, 3);
        await WaitUntilAsync(() => Volatile.Read(ref count) == 3, "three messages read");

        await reader.CloseAsync(TestContext.Current.CancellationToken);

        await enumeration.WaitAsync(WaitLimit, TestContext.Current.CancellationToken);
        Assert.Equal(3, Volatile.Read(ref count));
    }

    [Fact]
    public async Task A_message_nobody_answers_stops_counting_at_msg_timeout_so_close_does_not_wait_for_it()
    {
        var options = Options with { Connection = Options.Connection with { MsgTimeout = TimeSpan.FromSeconds(1) } };
        var reader = new NsqReader(options);
        await reader.StartAsync(TestContext.Current.CancellationToken);
        await PublishAsync(servers.NsqdTcpAddress, _topic, 1);
        NsqMessage? held = null;
        await foreach (var message in reader.ReadAllAsync(TestContext.Current.CancellationToken))
        {
            held = message;
            break;
        }

        Assert.Equal(1, Assert.Single(reader.Connections).InFlightCount);
        Assert.True(reader.IsStarved);

        // No token: only the expiry of the held message at msg_timeout can end the wait.
        await reader.CloseAsync(CancellationToken.None).AsTask().WaitAsync(WaitLimit, TestContext.Current.CancellationToken);

        Assert.False(held!.HasResponded);
        Assert.True(reader.Completion.IsCompletedSuccessfully);
    }

    private sealed class RecordingDispatcher(string topic, string channel) : INsqHandlerDispatcher
    {
        public ConcurrentQueue<NsqMessage> Calls { get; } = new();

        public string Topic => topic;

        public string Channel => channel;

        public Type MessageType => typeof(string);

        public string HandlerName => "Tests.RecordingDispatcher.Handle";

        public ValueTask DispatchAsync(NsqMessage message, IServiceProvider? services, CancellationToken cancellationToken)
        {
            Calls.Enqueue(message);
            return message.Attempts == 1 ? throw new FormatException("cannot deserialize") : ValueTask.CompletedTask;
        }
    }
}
