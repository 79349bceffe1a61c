using Microsoft.Extensions.Logging;

namespace NsqTyped.Hosting.Internal;

/// <summary>
/// Source-generated log messages of the hosting integration (EventIds 3000-3099).
/// The ids are a public contract: keep them unique and never reuse one for another meaning.
/// </summary>
internal static partial class HostingLog
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Starting NSQ consumer {Handler} on {Topic}/{Channel} ({Source}, max in flight {MaxInFlight})")]
    public static partial void ConsumerStarting(ILogger logger, string handler, string topic, string channel, string source, int maxInFlight);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "NSQ consumer {Handler} on {Topic}/{Channel} is disabled by configuration")]
    public static partial void ConsumerDisabled(ILogger logger, string handler, string topic, string channel);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Stopping {Count} NSQ consumer(s): draining in-flight messages")]
    public static partial void Draining(ILogger logger, int count);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "NSQ consumers stopped after {ElapsedMs} ms; every in-flight message was answered")]
    public static partial void Drained(ILogger logger, long elapsedMs);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "The host's shutdown timeout ended the NSQ drain after {ElapsedMs} ms; unanswered messages will be redelivered by nsqd after their timeout")]
    public static partial void DrainCutShort(ILogger logger, long elapsedMs);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "The NSQ producer could not connect to {Addresses} at start; publishes will keep retrying")]
    public static partial void ProducerConnectFailed(ILogger logger, string addresses, Exception error);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "The NSQ producer is connected to {Addresses}")]
    public static partial void ProducerConnected(ILogger logger, string addresses);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Information, Message = "No [NsqHandler] is registered; no NSQ consumer runs (call services.AddNsqTypedHandlers() to run the generated handlers)")]
    public static partial void NoHandlers(ILogger logger);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Error, Message = "NSQ consumer {Handler} on {Topic}/{Channel} failed while closing")]
    public static partial void ConsumerCloseFailed(ILogger logger, string handler, string topic, string channel, Exception error);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Critical, Message = "The NSQ configuration has {Count} problem(s); the host will not start:{Problems}")]
    public static partial void InvalidConfiguration(ILogger logger, int count, string problems);
}
