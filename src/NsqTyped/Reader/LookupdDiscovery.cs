using NsqTyped.Internal;

namespace NsqTyped.Reader;

/// <summary>What one lookupd poll changed: producers newly listed and producers no longer listed.</summary>
internal readonly record struct LookupdDiff(IReadOnlyList<NsqEndpoint> Added, IReadOnlyList<NsqEndpoint> Removed);

/// <summary>
/// The union of the producers every lookupd reports, diffed poll after poll. A lookupd that fails to
/// answer keeps contributing what it reported last for <see cref="StaleAfterFailures"/> consecutive
/// polls (a short outage must not make its producers undiscoverable); after that its last answer stops
/// counting, so a dead lookupd's list does not keep the Reader dialling nodes that are gone.
/// </summary>
/// <remarks>
/// "Discovered" only decides what the Reader (re)connects to. A producer that vanishes from the union
/// keeps its live connection: nsqd closes it when the topic or the node goes (mission map §4).
/// </remarks>
internal sealed class LookupdDiscovery
{
    /// <summary>Consecutive failed polls after which a lookupd's last answer stops counting.</summary>
    public const int StaleAfterFailures = 3;

    private readonly Dictionary<string, HashSet<NsqEndpoint>> _answers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly HashSet<NsqEndpoint> _current = [];

    public IReadOnlyCollection<NsqEndpoint> Current => _current;

    /// <summary>Applies the answers of one poll; <see langword="null"/> producers mean that lookupd failed.</summary>
    public LookupdDiff Apply(IEnumerable<KeyValuePair<string, IReadOnlyCollection<NsqEndpoint>?>> answers)
    {
        foreach (var (lookupd, producers) in answers)
        {
            if (producers is not null)
            {
                _answers[lookupd] = [.. producers];
                _failures[lookupd] = 0;
            }
            else if ((_failures[lookupd] = _failures.GetValueOrDefault(lookupd) + 1) >= StaleAfterFailures)
            {
                _answers.Remove(lookupd);
            }
        }

        var union = new HashSet<NsqEndpoint>();
        foreach (var set in _answers.Values)
        {
            union.UnionWith(set);
        }

        var added = union.Where(e => !_current.Contains(e)).OrderBy(e => e.ToString(), StringComparer.Ordinal).ToList();
        var removed = _current.Where(e => !union.Contains(e)).OrderBy(e => e.ToString(), StringComparer.Ordinal).ToList();
        _current.Clear();
        _current.UnionWith(union);
        return new LookupdDiff(added, removed);
    }

    /// <summary>First poll: a random part of <c>jitter × interval</c>, so consumers started together do not poll together.</summary>
    public static TimeSpan InitialDelay(TimeSpan interval, double jitter, Random random) =>
        TimeSpan.FromTicks((long)(random.NextDouble() * jitter * interval.Ticks));

    /// <summary>Later polls: <c>interval × (1 ± jitter)</c>, uniformly.</summary>
    public static TimeSpan NextDelay(TimeSpan interval, double jitter, Random random) =>
        TimeSpan.FromTicks((long)(interval.Ticks * (1 + (jitter * ((2 * random.NextDouble()) - 1)))));
}
