using System.Collections.Concurrent;
using NsqTyped.Conformance;

namespace NsqTyped.Testing.Tests.Tcp;

/// <summary>
/// Every recorded TCP scenario in tests/conformance/tcp, replayed against the embedded nsqd. The
/// fixtures are independent servers on free ports, so all of them start together on first use and
/// each test case awaits its own result: the whole set takes about as long as the slowest fixture.
/// </summary>
public sealed class TcpConformanceTests
{
    private static readonly SemaphoreSlim s_parallelism = new(16);
    private static readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyList<string>>>> s_runs = new(StringComparer.Ordinal);
    private static readonly Lazy<bool> s_started = new(StartAll);

    public static TheoryData<string> Fixtures => ConformanceFixtures.TcpFixtureNames;

    [Theory]
    [MemberData(nameof(Fixtures))]
    public async Task Embedded_nsqd_answers_like_the_recording(string fixture)
    {
        _ = s_started.Value;
        var failures = await Run(fixture).Value.WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
        Assert.True(failures.Count == 0, $"{fixture}: {ConformanceFixtures.Load(fixture).Description}\n  " + string.Join("\n  ", failures));
    }

    private static bool StartAll()
    {
        // Timing-heavy scenarios first, so the longest ones overlap with everything else.
        var names = ConformanceFixtures.TcpNames
            .OrderByDescending(n => ConformanceFixtures.Load(n).Steps.Any(s => s.Timing is not null || s.Action == "sleep"))
            .ToArray();
        foreach (var name in names)
        {
            _ = Run(name).Value;
        }

        return true;
    }

    private static Lazy<Task<IReadOnlyList<string>>> Run(string name) =>
        s_runs.GetOrAdd(name, static key => new Lazy<Task<IReadOnlyList<string>>>(() => Task.Run(async () =>
        {
            await s_parallelism.WaitAsync().ConfigureAwait(false);
            try
            {
                return await new TcpFixtureReplayer(ConformanceFixtures.Load(key)).RunAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                s_parallelism.Release();
            }
        })));
}
