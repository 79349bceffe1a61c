using Microsoft.Extensions.Logging;

namespace NsqTyped;

/// <summary>
/// Settings that work but defeat themselves, logged when a Reader starts (EventIds 1290-1299, the end of the
/// Reader's 1200-1299 range; the ids are a public contract).
/// </summary>
internal static partial class ReaderOptionsWarnings
{
    public static void Log(ILogger logger, string name, NsqReaderOptions options)
    {
        var concurrency = options.EffectiveConcurrency(options.NsqdTcpAddresses.Count);
        if (options.MaxConcurrency != 0 && concurrency > options.MaxInFlight)
        {
            ConcurrencyAboveMaxInFlight(logger, name, concurrency, options.MaxInFlight);
        }

        if (options.MaxInFlight < options.NsqdTcpAddresses.Count)
        {
            MaxInFlightBelowConnections(logger, name, options.MaxInFlight, options.NsqdTcpAddresses.Count);
        }
    }

    [LoggerMessage(EventId = 1290, Level = LogLevel.Warning, Message = "Reader {Name}: max_concurrency {Concurrency} exceeds max_in_flight {MaxInFlight}; at most {MaxInFlight} handlers ever run at once, so raise MaxInFlight or lower MaxConcurrency")]
    private static partial void ConcurrencyAboveMaxInFlight(ILogger logger, string name, int concurrency, int maxInFlight);

    [LoggerMessage(EventId = 1291, Level = LogLevel.Warning, Message = "Reader {Name}: max_in_flight {MaxInFlight} is below the {Connections} nsqd connections; some connections get RDY 0 at a time and their messages wait, so raise MaxInFlight to at least the number of nsqd")]
    private static partial void MaxInFlightBelowConnections(ILogger logger, string name, int maxInFlight, int connections);
}
