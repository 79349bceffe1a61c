using Microsoft.Extensions.Logging;

namespace NsqTyped;

/// <summary>Source-generated log messages of the typed layer (EventIds 1300-1399); the ids are a public contract.</summary>
internal static partial class TypedLog
{
    [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "Reader {Name}: message {MessageId} (attempt {Attempts}) is not a valid {MessageType}; requeued")]
    public static partial void InvalidBody(ILogger logger, string name, string messageId, int attempts, string messageType, Exception error);
}
