using NsqTyped.Internal;
using NsqTyped.Reader;

namespace NsqTyped.Tests.Reader;

public sealed class LookupdDiscoveryTests
{
    private static readonly NsqEndpoint A = new("10.0.0.1", 4150);
    private static readonly NsqEndpoint B = new("10.0.0.2", 4150);
    private static readonly NsqEndpoint C = new("10.0.0.2", 4250);

    private static KeyValuePair<string, IReadOnlyCollection<NsqEndpoint>?> Answer(string lookupd, params NsqEndpoint[]? producers) =>
        new(lookupd, producers);

    [Fact]
    public void Producers_of_all_lookupds_are_united_on_address_and_port()
    {
        var discovery = new LookupdDiscovery();

        var diff = discovery.Apply([Answer("l1", A, B), Answer("l2", B, C)]);

        Assert.Equal([A, B, C], diff.Added);
        Assert.Empty(diff.Removed);
        Assert.Equal(3, discovery.Current.Count);
    }

    [Fact]
    public void A_producer_that_vanishes_from_every_lookupd_is_removed()
    {
        var discovery = new LookupdDiscovery();
        discovery.Apply([Answer("l1", A, B), Answer("l2", B)]);

        var diff = discovery.Apply([Answer("l1", A), Answer("l2", B)]);
        Assert.Empty(diff.Added);
        Assert.Empty(diff.Removed);

        diff = discovery.Apply([Answer("l1", A), Answer("l2")]);
        Assert.Equal([B], diff.Removed);
    }

    [Fact]
    public void A_failing_lookupd_keeps_what_it_reported_last()
    {
        var discovery = new LookupdDiscovery();
        discovery.Apply([Answer("l1", A), Answer("l2", B)]);

        var diff = discovery.Apply([Answer("l1", A), new("l2", null)]);

        Assert.Empty(diff.Removed);
        Assert.Contains(B, discovery.Current);
    }

    [Fact]
    public void A_lookupd_failing_for_several_polls_stops_counting_and_counts_again_when_it_answers()
    {
        var discovery = new LookupdDiscovery();
        discovery.Apply([Answer("l1", A), Answer("l2", B)]);

        for (var i = 1; i < LookupdDiscovery.StaleAfterFailures; i++)
        {
            Assert.Empty(discovery.Apply([Answer("l1", A), new("l2", null)]).Removed);
        }

        var diff = discovery.Apply([Answer("l1", A), new("l2", null)]);
        Assert.Equal([B], diff.Removed);
        Assert.Equal([A], discovery.Current);

        diff = discovery.Apply([Answer("l1", A), Answer("l2", B)]);
        Assert.Equal([B], diff.Added);
    }

    [Fact]
    public void An_answer_between_failures_resets_the_failure_count()
    {
        var discovery = new LookupdDiscovery();
        discovery.Apply([Answer("l1", A)]);
        for (var round = 0; round < 3; round++)
        {
            for (var i = 1; i < LookupdDiscovery.StaleAfterFailures; i++)
            {
                discovery.Apply([new("l1", null)]);
            }

            discovery.Apply([Answer("l1", A)]);
        }

        Assert.Empty(discovery.Apply([new("l1", null)]).Removed);
        Assert.Contains(A, discovery.Current);
    }

    [Fact]
    public void First_poll_waits_a_random_part_of_jitter_times_interval()
    {
        var random = new Random(7);
        var delays = Enumerable.Range(0, 500).Select(_ => LookupdDiscovery.InitialDelay(TimeSpan.FromSeconds(60), 0.3, random)).ToList();

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromSeconds(18)));
        Assert.True(delays.Max() - delays.Min() > TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Later_polls_wait_the_interval_plus_or_minus_jitter()
    {
        var random = new Random(7);
        var delays = Enumerable.Range(0, 500).Select(_ => LookupdDiscovery.NextDelay(TimeSpan.FromSeconds(60), 0.3, random)).ToList();

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromSeconds(42), TimeSpan.FromSeconds(78)));
        Assert.Contains(delays, d => d < TimeSpan.FromSeconds(50));
        Assert.Contains(delays, d => d > TimeSpan.FromSeconds(70));
    }
}
