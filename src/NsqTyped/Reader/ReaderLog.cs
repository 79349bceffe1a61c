using Microsoft.Extensions.Logging;

namespace NsqTyped.Reader;

/// <summary>
/// Source-generated log messages of the Reader (EventIds 1200-1299; connections use 1000-1099 and
/// producers 1100-1199). The ids are a public contract: never reuse one for another meaning.
/// </summary>
internal static partial class ReaderLog
{
    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Reader {Name} starting ({Direct} nsqd, {Lookupd} lookupd, max_in_flight {MaxInFlight})")]
    public static partial void Starting(ILogger logger, string name, int direct, int lookupd, int maxInFlight);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Reader {Name} subscribed on nsqd {Address} (max_rdy_count {MaxRdyCount})")]
    public static partial void Subscribed(ILogger logger, string name, string address, long maxRdyCount);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Reader {Name} could not connect to nsqd {Address}")]
    public static partial void ConnectFailed(ILogger logger, string name, string address, Exception error);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Warning, Message = "Reader {Name} lost its connection to nsqd {Address}")]
    public static partial void ConnectionLost(ILogger logger, string name, string address, Exception? error);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Debug, Message = "Reader {Name} reconnecting to nsqd {Address} in {DelayMs} ms")]
    public static partial void Reconnecting(ILogger logger, string name, string address, long delayMs);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning, Message = "Reader {Name}: lookupd {Lookupd} failed")]
    public static partial void LookupdFailed(ILogger logger, string name, string lookupd, Exception error);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Information, Message = "Reader {Name}: lookupd reports new producer {Address}")]
    public static partial void ProducerDiscovered(ILogger logger, string name, string address);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Information, Message = "Reader {Name}: producer {Address} no longer listed by lookupd; a live connection stays until nsqd closes it, and is not reconnected")]
    public static partial void ProducerVanished(ILogger logger, string name, string address);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Debug, Message = "Reader {Name}: RDY {Count} on {Address}")]
    public static partial void SendingRdy(ILogger logger, string name, string address, long count);

    [LoggerMessage(EventId = 1209, Level = LogLevel.Warning, Message = "Reader {Name}: nsqd {Address} max_rdy_count {MaxRdyCount} is below max_in_flight {MaxInFlight}; that connection is capped")]
    public static partial void MaxRdyBelowMaxInFlight(ILogger logger, string name, string address, long maxRdyCount, int maxInFlight);

    [LoggerMessage(EventId = 1210, Level = LogLevel.Information, Message = "Reader {Name} backing off for {DelayMs} ms (counter {Counter})")]
    public static partial void BackingOff(ILogger logger, string name, long delayMs, int counter);

    [LoggerMessage(EventId = 1211, Level = LogLevel.Information, Message = "Reader {Name} backoff expired; testing with RDY 1")]
    public static partial void TestingBackoff(ILogger logger, string name);

    [LoggerMessage(EventId = 1212, Level = LogLevel.Information, Message = "Reader {Name} backoff complete; resuming full flow")]
    public static partial void BackoffComplete(ILogger logger, string name);

    [LoggerMessage(EventId = 1213, Level = LogLevel.Warning, Message = "Reader {Name} giving up on message {MessageId} after {Attempts} attempts (max_tries {MaxTries})")]
    public static partial void GivingUp(ILogger logger, string name, string messageId, int attempts, int maxTries);

    [LoggerMessage(EventId = 1214, Level = LogLevel.Error, Message = "Reader {Name}: handler failed on message {MessageId}; requeueing")]
    public static partial void HandlerFailed(ILogger logger, string name, string messageId, Exception error);

    [LoggerMessage(EventId = 1215, Level = LogLevel.Warning, Message = "Reader {Name}: could not respond to message {MessageId}; nsqd redelivers it after its timeout")]
    public static partial void ResponseFailed(ILogger logger, string name, string messageId, Exception error);

    [LoggerMessage(EventId = 1216, Level = LogLevel.Error, Message = "Reader {Name}: the giving-up hook failed on message {MessageId}")]
    public static partial void GivingUpHookFailed(ILogger logger, string name, string messageId, Exception error);

    [LoggerMessage(EventId = 1217, Level = LogLevel.Error, Message = "Reader {Name}: an event handler threw")]
    public static partial void EventHandlerFailed(ILogger logger, string name, Exception error);

    [LoggerMessage(EventId = 1218, Level = LogLevel.Information, Message = "Reader {Name} closing: {Outstanding} message(s) outstanding")]
    public static partial void Closing(ILogger logger, string name, int outstanding);

    [LoggerMessage(EventId = 1219, Level = LogLevel.Warning, Message = "Reader {Name}: close cancelled with {Outstanding} message(s) unanswered; nsqd redelivers them after their timeout")]
    public static partial void CloseCancelled(ILogger logger, string name, int outstanding);

    [LoggerMessage(EventId = 1220, Level = LogLevel.Information, Message = "Reader {Name} closed")]
    public static partial void Closed(ILogger logger, string name);

    [LoggerMessage(EventId = 1221, Level = LogLevel.Error, Message = "Reader {Name}: the actor loop failed handling {Command}")]
    public static partial void ActorFailed(ILogger logger, string name, string command, Exception error);

    [LoggerMessage(EventId = 1222, Level = LogLevel.Error, Message = "Reader {Name}: nsqd {Address} refused the connection; retrying with backoff will not help until the configuration changes")]
    public static partial void ConnectRefused(ILogger logger, string name, string address, Exception error);
    [LoggerMessage(EventId = 1223, Level = LogLevel.Warning, Message = "Reader {Name} giving up on poison message {MessageId} at attempt {Attempts}: it can never be handled")]
    public static partial void Poison(ILogger logger, string name, string messageId, int attempts, Exception error);

    [LoggerMessage(EventId = 1224, Level = LogLevel.Information, Message = "Reader {Name} dead-lettered message {MessageId} to topic {Topic}")]
    public static partial void DeadLettered(ILogger logger, string name, string messageId, string topic);

    [LoggerMessage(EventId = 1225, Level = LogLevel.Error, Message = "Reader {Name} could not dead-letter message {MessageId} to topic {Topic}; requeued in {DelayMs} ms instead of finishing it")]
    public static partial void DeadLetterFailed(ILogger logger, string name, string messageId, string topic, long delayMs, Exception error);
}
