using Microsoft.Extensions.Logging;

namespace NsqTyped.Internal;

/// <summary>
/// Source-generated log messages of connections (EventIds 1000-1099) and producers (1100-1199).
/// The ids are a public contract: keep them unique and never reuse one for another meaning.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Debug, Message = "Connecting to nsqd {Address}")]
    public static partial void Connecting(ILogger logger, string address);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Connected to nsqd {Address} (version {Version}, tls {Tls}, snappy {Snappy}, deflate {Deflate})")]
    public static partial void Connected(ILogger logger, string address, string version, bool tls, bool snappy, bool deflate);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Authenticated to nsqd {Address} as {Identity} ({PermissionCount} permissions)")]
    public static partial void Authenticated(ILogger logger, string address, string identity, int permissionCount);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Connection to nsqd {Address} closed")]
    public static partial void Closed(ILogger logger, string address);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "Connection to nsqd {Address} failed")]
    public static partial void Failed(ILogger logger, string address, Exception error);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Trace, Message = "Heartbeat from nsqd {Address} answered with NOP")]
    public static partial void HeartbeatAnswered(ILogger logger, string address);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "No data from nsqd {Address} for {ElapsedMs} ms (two heartbeat intervals); closing the connection")]
    public static partial void WatchdogExpired(ILogger logger, string address, long elapsedMs);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "nsqd {Address} sent error {Code}: {Description}")]
    public static partial void ServerError(ILogger logger, string address, string code, string description);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "nsqd {Address} sent a response nobody was waiting for")]
    public static partial void UnexpectedResponse(ILogger logger, string address);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Error, Message = "An event handler of the connection to nsqd {Address} threw")]
    public static partial void EventHandlerFailed(ILogger logger, string address, Exception error);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "nsqd {Address} declined {Feature}; continuing without it")]
    public static partial void FeatureDeclined(ILogger logger, string address, string feature);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "A message from nsqd {Address} arrived with no MessageReceived handler; it stays in flight until its timeout")]
    public static partial void MessageWithoutHandler(ILogger logger, string address);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "nsqd {Address} delivered message {MessageId} with a {Size}-byte body, above MaxReadMessageSize ({Limit} bytes); it is read past without being buffered and given up")]
    public static partial void MessageTooLarge(ILogger logger, string address, string messageId, int size, int limit);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Debug, Message = "A publish's continuation or a message's handler has run on the read loop's thread of nsqd {Address} for over {PeriodMs} ms; reading goes on on another thread")]
    public static partial void ParkedReadReleased(ILogger logger, string address, long periodMs);

    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug, Message = "Producer connecting to nsqd {Address}")]
    public static partial void ProducerConnecting(ILogger logger, string address);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Producer connected to nsqd {Address}")]
    public static partial void ProducerConnected(ILogger logger, string address);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Producer could not connect to nsqd {Address}; retrying in {DelayMs} ms")]
    public static partial void ProducerConnectFailed(ILogger logger, string address, long delayMs, Exception error);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "Producer lost its connection to nsqd {Address}; reconnecting")]
    public static partial void ProducerConnectionLost(ILogger logger, string address, Exception? error);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Debug, Message = "Producer failing over from nsqd {Address}: {Reason}")]
    public static partial void ProducerFailover(ILogger logger, string address, string reason);
}
