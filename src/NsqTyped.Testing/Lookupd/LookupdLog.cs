using Microsoft.Extensions.Logging;

namespace NsqTyped.Testing.Lookupd;

/// <summary>Log messages of the embedded nsqlookupd and of nsqd's lookupd registration (EventIds 4100-4199).</summary>
internal static partial class LookupdLog
{
    [LoggerMessage(EventId = 4100, Level = LogLevel.Information, Message = "nsqlookupd: TCP listening on {Address}, HTTP listening on {HttpAddress}")]
    public static partial void Listening(ILogger logger, string address, string httpAddress);

    [LoggerMessage(EventId = 4101, Level = LogLevel.Debug, Message = "nsqlookupd: new client {Remote}")]
    public static partial void ClientConnected(ILogger logger, string remote);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "nsqlookupd: client {Remote} sent bad protocol magic '{Magic}'")]
    public static partial void BadMagic(ILogger logger, string remote, string magic);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "nsqlookupd: client {Remote} error: {Error}")]
    public static partial void ClientError(ILogger logger, string remote, string error);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "nsqlookupd: client {Remote} IDENTIFY address {BroadcastAddress} TCP {TcpPort} HTTP {HttpPort} version {Version}")]
    public static partial void Identified(ILogger logger, string remote, string broadcastAddress, long tcpPort, long httpPort, string version);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Debug, Message = "nsqlookupd: client {Remote} {Command} {Category}:{Key}:{SubKey}")]
    public static partial void Registration(ILogger logger, string remote, string command, string category, string key, string subKey);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Debug, Message = "nsqlookupd: client {Remote} closed")]
    public static partial void ClientClosed(ILogger logger, string remote);

    [LoggerMessage(EventId = 4107, Level = LogLevel.Error, Message = "nsqlookupd: HTTP handler failed for {Method} {Path}")]
    public static partial void HttpFailed(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(EventId = 4150, Level = LogLevel.Information, Message = "nsqd: lookupd {Address} connected and identified")]
    public static partial void PeerConnected(ILogger logger, string address);

    [LoggerMessage(EventId = 4151, Level = LogLevel.Warning, Message = "nsqd: lookupd {Address} unavailable: {Error}")]
    public static partial void PeerFailed(ILogger logger, string address, string error);

    [LoggerMessage(EventId = 4152, Level = LogLevel.Debug, Message = "nsqd: lookupd {Address} <- {Command}")]
    public static partial void PeerCommand(ILogger logger, string address, string command);

    [LoggerMessage(EventId = 4154, Level = LogLevel.Debug, Message = "nsqd: lookupd {Address} still unavailable: {Error}")]
    public static partial void PeerStillFailing(ILogger logger, string address, string error);

    [LoggerMessage(EventId = 4153, Level = LogLevel.Information, Message = "nsqd: lookupd {Address} removed")]
    public static partial void PeerRemoved(ILogger logger, string address);
}
