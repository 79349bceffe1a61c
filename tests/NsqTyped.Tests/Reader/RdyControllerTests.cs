using NsqTyped.Reader;

namespace NsqTyped.Tests.Reader;

public sealed class RdyControllerTests
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(10);

    private sealed class Harness
    {
        public Harness(long maxInFlight, TimeSpan? maxBackoff = null, int seed = 1)
        {
            Time = new ManualTimeProvider();
            Controller = new RdyController<string>(
                maxInFlight,
                Idle,
                new NsqBackoffPolicy(maxBackoff ?? TimeSpan.FromSeconds(128)),
                Time,
                new Random(seed),
                Record,
                c => InFlight.GetValueOrDefault(c),
                c => LastActivity.TryGetValue(c, out var at) ? at : null);
            MaxInFlight = maxInFlight;
        }

        /// <summary>The connections' ledgers, as the controller reads them.</summary>
        public Dictionary<string, int> InFlight { get; } = [];

        public Dictionary<string, DateTimeOffset> LastActivity { get; } = [];

        /// <summary>nsqd delivers a message on <paramref name="conn"/>: its ledger counts it, the controller hears of it.</summary>
        public void Deliver(string conn)
        {
            InFlight[conn] = InFlight.GetValueOrDefault(conn) + 1;
            LastActivity[conn] = Time.GetUtcNow();
            Controller.OnMessageReceived(conn);
        }

        /// <summary>The handler answers a message of <paramref name="conn"/>.</summary>
        public void Complete(string conn, RdyOutcome outcome)
        {
            if (InFlight.GetValueOrDefault(conn) > 0)
            {
                InFlight[conn]--;
            }

            LastActivity[conn] = Time.GetUtcNow();
            Controller.OnMessageCompleted(conn, outcome);
        }

        public ManualTimeProvider Time { get; }

        public RdyController<string> Controller { get; }

        public long MaxInFlight { get; }

        public Dictionary<string, long> Wire { get; } = [];

        public Dictionary<string, long> MaxRdy { get; } = [];

        public List<(string Conn, long Rdy)> Sent { get; } = [];

        public void Add(string conn, long maxRdy = 2500)
        {
            MaxRdy[conn] = maxRdy;
            Controller.Add(conn, maxRdy);
        }

        public void Remove(string conn)
        {
            Wire.Remove(conn);
            InFlight.Remove(conn);
            LastActivity.Remove(conn);
            Controller.Remove(conn);
        }

        public long Rdy(string conn) => Wire.GetValueOrDefault(conn);

        private void Record(string conn, long rdy)
        {
            Assert.NotEqual(Wire.GetValueOrDefault(conn), rdy);
            Assert.InRange(rdy, 0, MaxRdy[conn]);
            Wire[conn] = rdy;
            Sent.Add((conn, rdy));
            Assert.True(Wire.Values.Sum() <= MaxInFlight, $"Σ RDY {Wire.Values.Sum()} > max_in_flight {MaxInFlight}");
        }
    }

    [Fact]
    public void A_new_connection_gets_rdy_1_then_max_in_flight_on_its_first_message()
    {
        var h = new Harness(100);

        h.Add("a");
        Assert.Equal(1, h.Rdy("a"));

        h.Deliver("a");
        Assert.Equal(100, h.Rdy("a"));
    }

    [Fact]
    public void Max_in_flight_is_spread_evenly_over_active_connections()
    {
        var h = new Harness(10);
        foreach (var c in new[] { "a", "b", "c" })
        {
            h.Add(c);
            h.Deliver(c);
        }

        Assert.Equal([4L, 3L, 3L], new[] { h.Rdy("a"), h.Rdy("b"), h.Rdy("c") });
    }

    [Fact]
    public void New_and_idle_connections_hold_1_and_active_ones_share_the_rest()
    {
        var h = new Harness(10);
        h.Add("a");
        h.Add("b");
        h.Add("c");
        h.Deliver("a");

        Assert.Equal([8L, 1L, 1L], new[] { h.Rdy("a"), h.Rdy("b"), h.Rdy("c") });

        h.Complete("a", RdyOutcome.Success);
        h.Time.Advance(Idle);
        h.Controller.Tick();
        Assert.Equal([1L, 1L, 1L], new[] { h.Rdy("a"), h.Rdy("b"), h.Rdy("c") });
    }

    [Fact]
    public void Rdy_never_exceeds_a_connections_max_rdy_count_and_the_rest_goes_elsewhere()
    {
        var h = new Harness(100);
        h.Add("small", maxRdy: 10);
        h.Add("big");
        h.Deliver("small");
        h.Deliver("big");

        Assert.Equal(10, h.Rdy("small"));
        Assert.Equal(90, h.Rdy("big"));
    }

    [Fact]
    public void Removing_a_connection_gives_its_share_to_the_others()
    {
        var h = new Harness(10);
        h.Add("a");
        h.Add("b");
        h.Deliver("a");
        h.Deliver("b");
        Assert.Equal(5, h.Rdy("a"));

        h.Remove("b");

        Assert.Equal(10, h.Rdy("a"));
    }

    [Fact]
    public void Unchanged_values_are_not_sent_again()
    {
        var h = new Harness(10);
        h.Add("a");
        h.Deliver("a");
        var before = h.Sent.Count;

        for (var i = 0; i < 50; i++)
        {
            h.Deliver("a");
            h.Complete("a", RdyOutcome.Success);
            h.Controller.Tick();
        }

        Assert.Equal(before, h.Sent.Count);
    }

    [Fact]
    public void With_fewer_slots_than_connections_only_max_in_flight_hold_rdy()
    {
        var h = new Harness(1);
        h.Add("a");
        h.Add("b");
        h.Add("c");

        Assert.Equal(1, h.Controller.TotalRdy);
        Assert.Equal(1, h.Rdy("a"));
    }

    [Fact]
    public void Rdy_rotates_away_from_an_idle_connection_so_no_producer_starves()
    {
        var h = new Harness(1);
        h.Add("a");
        h.Add("b");
        h.Add("c");
        var holders = new HashSet<string>();

        for (var i = 0; i < 6; i++)
        {
            holders.Add(h.Wire.Single(kv => kv.Value == 1).Key);
            h.Time.Advance(h.Controller.NextTickDelay() ?? throw new InvalidOperationException("no tick scheduled"));
            h.Controller.Tick();
        }

        Assert.Equal(["a", "b", "c"], holders.Order());
    }

    [Fact]
    public void A_busy_connection_keeps_rdy_until_three_idle_timeouts_then_yields()
    {
        var h = new Harness(1);
        h.Add("a");
        h.Add("b");
        for (var i = 0; i < 5; i++)
        {
            h.Time.Advance(TimeSpan.FromSeconds(5));
            h.Deliver("a");
            h.Complete("a", RdyOutcome.Success);
            h.Controller.Tick();
            Assert.Equal(1, h.Rdy("a"));
        }

        h.Time.Advance(TimeSpan.FromSeconds(5));
        h.Controller.Tick();

        Assert.Equal(0, h.Rdy("a"));
        Assert.Equal(1, h.Rdy("b"));
    }

    [Fact]
    public void A_failure_sends_rdy_0_everywhere_then_tests_with_rdy_1_on_one_connection()
    {
        var h = new Harness(10);
        h.Add("a");
        h.Add("b");
        h.Deliver("a");
        h.Deliver("b");

        h.Complete("a", RdyOutcome.Failure);

        Assert.Equal(RdyPhase.BackingOff, h.Controller.Phase);
        Assert.Equal(0, h.Controller.TotalRdy);
        var wait = h.Controller.NextTickDelay();
        Assert.NotNull(wait);
        Assert.InRange(wait.Value, TimeSpan.Zero, TimeSpan.FromSeconds(1));

        h.Time.Advance(wait.Value);
        h.Controller.Tick();

        Assert.Equal(RdyPhase.Testing, h.Controller.Phase);
        Assert.Equal(1, h.Controller.TotalRdy);
    }

    [Fact]
    public void Successes_shrink_the_backoff_back_to_full_flow()
    {
        var h = new Harness(10);
        h.Add("a");
        h.Deliver("a");
        for (var i = 0; i < 3; i++)
        {
            h.Complete("a", RdyOutcome.Failure);
            h.Time.Advance(h.Controller.NextTickDelay()!.Value);
            h.Controller.Tick();
        }

        Assert.Equal(3, h.Controller.BackoffCounter);
        for (var expected = 2; expected >= 1; expected--)
        {
            Assert.Equal(RdyPhase.Testing, h.Controller.Phase);
            h.Deliver("a");
            h.Complete("a", RdyOutcome.Success);
            Assert.Equal(expected, h.Controller.BackoffCounter);
            Assert.Equal(0, h.Rdy("a"));
            h.Time.Advance(h.Controller.NextTickDelay()!.Value);
            h.Controller.Tick();
            Assert.Equal(1, h.Rdy("a"));
        }

        h.Deliver("a");
        h.Complete("a", RdyOutcome.Success);

        Assert.Equal(RdyPhase.Flowing, h.Controller.Phase);
        Assert.Equal(0, h.Controller.BackoffCounter);
        Assert.Equal(10, h.Rdy("a"));
    }

    [Fact]
    public void Outcomes_arriving_while_the_backoff_timer_runs_are_ignored()
    {
        var h = new Harness(10, seed: 3);
        h.Add("a");
        h.Deliver("a");
        h.Complete("a", RdyOutcome.Failure);
        Assert.Equal(RdyPhase.BackingOff, h.Controller.Phase);
        var until = h.Controller.BackoffUntil;

        h.Complete("a", RdyOutcome.Failure);
        h.Complete("a", RdyOutcome.Success);

        Assert.Equal(RdyPhase.BackingOff, h.Controller.Phase);
        Assert.Equal(1, h.Controller.BackoffCounter);
        Assert.Equal(until, h.Controller.BackoffUntil);
    }

    [Fact]
    public void The_backoff_counter_stops_growing_at_the_cap()
    {
        var h = new Harness(10, maxBackoff: TimeSpan.FromSeconds(2));
        h.Add("a");
        for (var i = 0; i < 10; i++)
        {
            h.Complete("a", RdyOutcome.Failure);
            Assert.True(h.Controller.NextTickDelay() <= TimeSpan.FromSeconds(2));
            h.Time.Advance(h.Controller.NextTickDelay()!.Value);
            h.Controller.Tick();
        }

        Assert.Equal(2, h.Controller.BackoffCounter);
    }

    [Fact]
    public void Zero_max_backoff_duration_disables_backoff()
    {
        var h = new Harness(10, maxBackoff: TimeSpan.Zero);
        h.Add("a");
        h.Deliver("a");

        h.Complete("a", RdyOutcome.Failure);

        Assert.Equal(RdyPhase.Flowing, h.Controller.Phase);
        Assert.Equal(10, h.Rdy("a"));
    }

    [Fact]
    public void The_test_rdy_moves_on_when_its_connection_has_nothing_to_send()
    {
        var h = new Harness(10);
        h.Add("a");
        h.Add("b");
        h.Complete("a", RdyOutcome.Failure);
        h.Time.Advance(h.Controller.NextTickDelay()!.Value);
        h.Controller.Tick();
        var first = h.Wire.Single(kv => kv.Value == 1).Key;

        h.Time.Advance(h.Controller.NextTickDelay()!.Value);
        h.Controller.Tick();

        var second = h.Wire.Single(kv => kv.Value == 1).Key;
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Stop_sends_rdy_0_everywhere_and_grants_nothing_afterwards()
    {
        var h = new Harness(10);
        h.Add("a");
        h.Deliver("a");

        h.Controller.Stop();
        h.Add("b");
        h.Controller.Tick();

        Assert.Equal(0, h.Controller.TotalRdy);
        Assert.Equal(0, h.Rdy("a"));
    }

    [Fact]
    public void A_connection_with_messages_in_flight_is_not_idle_however_slow_its_handler()
    {
        var h = new Harness(10);
        h.Add("a");
        h.Add("b");
        for (var i = 0; i < 5; i++)
        {
            h.Deliver("a");
        }

        Assert.Equal(9, h.Rdy("a"));

        // A 35 s handler: no delivery, no answer, but five messages in flight the whole time.
        for (var i = 0; i < 7; i++)
        {
            h.Time.Advance(TimeSpan.FromSeconds(5));
            h.Controller.Tick();
            Assert.Equal(9, h.Rdy("a"));
        }

        for (var i = 0; i < 5; i++)
        {
            h.Complete("a", RdyOutcome.Success);
        }

        // Idle now counts from the last answer.
        h.Time.Advance(Idle - TimeSpan.FromSeconds(1));
        h.Controller.Tick();
        Assert.Equal(9, h.Rdy("a"));
        h.Time.Advance(TimeSpan.FromSeconds(1));
        h.Controller.Tick();
        Assert.Equal(1, h.Rdy("a"));
    }

    [Fact]
    public void A_grant_waits_until_messages_in_flight_elsewhere_are_answered()
    {
        var h = new Harness(4);
        h.Add("a");
        for (var i = 0; i < 4; i++)
        {
            h.Deliver("a");
        }

        Assert.Equal(4, h.Rdy("a"));

        // A new connection takes 1 of a's 4, but a still has 4 messages in flight: RDY 1 on b would make 5.
        h.Add("b");
        Assert.Equal(3, h.Rdy("a"));
        Assert.Equal(0, h.Rdy("b"));
        Assert.True(h.Controller.HasHeldGrants);
        Assert.NotNull(h.Controller.NextTickDelay());

        h.Complete("a", RdyOutcome.Success);

        Assert.Equal(1, h.Rdy("b"));
        Assert.False(h.Controller.HasHeldGrants);
    }

    [Theory]
    [InlineData(1, 21)]
    [InlineData(2, 22)]
    [InlineData(5, 23)]
    [InlineData(40, 24)]
    public void Randomized_redistribution_never_puts_more_than_max_in_flight_in_flight(long maxInFlight, int seed)
    {
        var h = new Harness(maxInFlight, maxBackoff: TimeSpan.FromSeconds(4), seed: seed);
        var random = new Random(seed);
        var live = new List<string>();
        var next = 0;
        long delivered = 0;

        for (var step = 0; step < 8000; step++)
        {
            switch (random.Next(12))
            {
                case 0 when live.Count < 8:
                    var name = "c" + next++;
                    h.Add(name, maxRdy: random.Next(4) == 0 ? random.Next(1, 5) : 2500);
                    live.Add(name);
                    break;
                case 1 or 2 when live.Count > 0:
                    // A connection drops: nothing can be answered on it any more.
                    var gone = live[random.Next(live.Count)];
                    live.Remove(gone);
                    h.Remove(gone);
                    break;
                case 3 or 4 or 5 or 6:
                    // nsqd delivers wherever a connection's in-flight count is below its RDY.
                    var open = live.Where(c => h.InFlight.GetValueOrDefault(c) < h.Rdy(c)).ToList();
                    if (open.Count > 0)
                    {
                        h.Deliver(open[random.Next(open.Count)]);
                        delivered++;
                    }

                    break;
                case 7 or 8 or 9:
                    var busy = live.Where(c => h.InFlight.GetValueOrDefault(c) > 0).ToList();
                    if (busy.Count > 0)
                    {
                        var outcome = random.Next(12) switch { 0 => RdyOutcome.Failure, 1 => RdyOutcome.Neutral, _ => RdyOutcome.Success };
                        h.Complete(busy[random.Next(busy.Count)], outcome);
                    }

                    break;
                default:
                    h.Time.Advance(TimeSpan.FromMilliseconds(random.Next(1, 6000)));
                    h.Controller.Tick();
                    break;
            }

            var inFlight = h.InFlight.Values.Sum();
            Assert.True(inFlight <= maxInFlight, $"step {step}: {inFlight} messages in flight, max_in_flight {maxInFlight}");
            Assert.True(h.Wire.Values.Sum() <= maxInFlight);
        }

        Assert.True(delivered > 500, $"the churn should deliver many messages ({delivered})");
    }

    [Theory]
    [InlineData(1, 11)]
    [InlineData(3, 12)]
    [InlineData(10, 13)]
    [InlineData(200, 14)]
    public void Randomized_churn_never_breaks_the_rdy_invariants(long maxInFlight, int seed)
    {
        var h = new Harness(maxInFlight, maxBackoff: TimeSpan.FromSeconds(4), seed: seed);
        var random = new Random(seed);
        var live = new List<string>();
        var next = 0;
        var everHeld = new HashSet<string>();
        var flowingAge = new Dictionary<string, TimeSpan>();

        // With at most 8 connections a waiter reaches the head of the queue within 8 rotations of at most 3 idle timeouts.
        var starvationBound = (Idle * 3 * 8) + Idle;

        for (var step = 0; step < 5000; step++)
        {
            switch (random.Next(10))
            {
                case 0 when live.Count < 8:
                    var name = "c" + next++;
                    h.Add(name, maxRdy: random.Next(4) == 0 ? random.Next(1, 5) : 2500);
                    live.Add(name);
                    flowingAge[name] = TimeSpan.Zero;
                    break;
                case 1 when live.Count > 0:
                    var gone = live[random.Next(live.Count)];
                    live.Remove(gone);
                    h.Remove(gone);
                    break;
                case 2 or 3 or 4:
                    var holder = live.Where(c => h.InFlight.GetValueOrDefault(c) < h.Rdy(c)).ToList();
                    if (holder.Count > 0)
                    {
                        h.Deliver(holder[random.Next(holder.Count)]);
                    }

                    break;
                case 5 or 6 or 7:
                    var busy = live.Where(c => h.InFlight.GetValueOrDefault(c) > 0).ToList();
                    if (busy.Count > 0)
                    {
                        var outcome = random.Next(10) switch { 0 => RdyOutcome.Failure, 1 => RdyOutcome.Neutral, _ => RdyOutcome.Success };
                        h.Complete(busy[random.Next(busy.Count)], outcome);
                    }

                    break;
                default:
                    var dt = TimeSpan.FromMilliseconds(random.Next(1, 4000));
                    if (h.Controller.Phase == RdyPhase.Flowing)
                    {
                        foreach (var c in live)
                        {
                            flowingAge[c] += dt;
                        }
                    }

                    h.Time.Advance(dt);
                    h.Controller.Tick();
                    break;
            }

            Assert.Equal(h.Wire.Values.Sum(), h.Controller.TotalRdy);
            Assert.True(h.Controller.TotalRdy <= maxInFlight);
            foreach (var c in live)
            {
                Assert.InRange(h.Rdy(c), 0, h.MaxRdy[c]);
                if (h.Rdy(c) > 0)
                {
                    everHeld.Add(c);
                }

                Assert.True(everHeld.Contains(c) || flowingAge[c] < starvationBound, $"step {step}: {c} starved for {flowingAge[c]} of full flow");
            }

            if (h.Controller.Phase == RdyPhase.Flowing && live.Count > 0)
            {
                // No RDY anywhere is only right while messages still in flight hold the budget back.
                Assert.True(h.Controller.TotalRdy > 0 || h.Controller.HasHeldGrants, $"step {step}: flowing with {live.Count} connections but no RDY anywhere");
            }
        }

        Assert.True(next > 50, "the churn should have created many connections");
    }
}
