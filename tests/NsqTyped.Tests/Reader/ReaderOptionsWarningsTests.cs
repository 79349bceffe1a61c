using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Reader;

/// <summary>Settings that work but defeat themselves are logged as warnings when the Reader starts.</summary>
public sealed class ReaderOptionsWarningsTests
{
    [Fact]
    public async Task MaxConcurrency_above_MaxInFlight_is_a_warning()
    {
        var warnings = await WarningsOfAsync(o => o with { MaxInFlight = 2, MaxConcurrency = 8 });

        var warning = Assert.Single(warnings);
        Assert.Equal(1290, warning.Id);
        Assert.Contains("max_concurrency 8 exceeds max_in_flight 2", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MaxInFlight_below_the_number_of_nsqd_is_a_warning()
    {
        var warnings = await WarningsOfAsync(o => o with { MaxInFlight = 1, NsqdTcpAddresses = [NsqTestServers.UnusedTcpAddress(), NsqTestServers.UnusedTcpAddress()] });

        var warning = Assert.Single(warnings);
        Assert.Equal(1291, warning.Id);
        Assert.Contains("max_in_flight 1 is below the 2 nsqd connections", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Consistent_settings_log_no_warning()
    {
        Assert.Empty(await WarningsOfAsync(o => o with { MaxInFlight = 16, MaxConcurrency = 4 }));
    }

    private static async Task<IReadOnlyList<(int Id, string Message)>> WarningsOfAsync(Func<NsqReaderOptions, NsqReaderOptions> configure)
    {
        var provider = new RecordingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(provider));
        var options = configure(NsqReaderOptions.Default with
        {
            Topic = "warnings",
            Channel = "c",
            NsqdTcpAddresses = [NsqTestServers.UnusedTcpAddress()],
            LoggerFactory = factory,
            ReconnectDelay = TimeSpan.FromSeconds(30),
            MaxReconnectDelay = TimeSpan.FromSeconds(30),
        });
        await using (var reader = new NsqReader(options, static (_, _) => ValueTask.CompletedTask))
        {
            await reader.StartAsync(TestContext.Current.CancellationToken);
        }

        return [.. provider.Entries.Where(e => e.Level == LogLevel.Warning && e.Id is >= 1290 and <= 1299).Select(e => (e.Id, e.Message))];
    }
}
