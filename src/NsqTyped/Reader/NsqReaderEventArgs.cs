using NsqTyped.Protocol;

namespace NsqTyped;

/// <summary>
/// A message is given up (gnsq <c>on_giving_up</c>): it exceeded <see cref="NsqReaderOptions.MaxTries"/>, or
/// it is a poison message (<see cref="Reason"/> says why). It is dead-lettered when a topic is configured, then finished.
/// </summary>
public sealed class NsqGivingUpEventArgs : EventArgs
{
    /// <summary>Creates the event data for a message beyond max_tries.</summary>
    public NsqGivingUpEventArgs(NsqMessage message)
        : this(message, null)
    {
    }

    /// <summary>Creates the event data.</summary>
    /// <param name="message">The message given up on.</param>
    /// <param name="reason">The permanent failure that made it poison; <see langword="null"/> when it exceeded max_tries.</param>
    public NsqGivingUpEventArgs(NsqMessage message, Exception? reason)
    {
        Message = message;
        Reason = reason;
    }

    /// <summary>The message given up on.</summary>
    public NsqMessage Message { get; }

    /// <summary>The permanent failure (<see cref="NsqPermanentFailureException"/>, e.g. <see cref="NsqDeserializationException"/>); <see langword="null"/> when the message exceeded max_tries.</summary>
    public Exception? Reason { get; }
}

/// <summary>Where a Reader's failure backoff stands.</summary>
public enum NsqBackoffPhase
{
    /// <summary>Full flow: max_in_flight spread over the connections.</summary>
    Flowing,

    /// <summary>Backing off after a handler failure: RDY 0 on every connection until <see cref="NsqBackoffEventArgs.Until"/>.</summary>
    BackingOff,

    /// <summary>The wait ended: RDY 1 on one connection; a success steps the backoff down, a failure up.</summary>
    Testing,

    /// <summary>The Reader is closing: RDY 0 for good.</summary>
    Stopped,
}

/// <summary>The Reader's backoff changed phase or counter (<see cref="NsqReader.BackoffChanged"/>).</summary>
public sealed class NsqBackoffEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public NsqBackoffEventArgs(NsqBackoffPhase phase, int counter, DateTimeOffset? until)
    {
        Phase = phase;
        Counter = counter;
        Until = until;
    }

    /// <summary>The phase now.</summary>
    public NsqBackoffPhase Phase { get; }

    /// <summary>Consecutive failures not yet paid back by successes (0 in full flow).</summary>
    public int Counter { get; }

    /// <summary>When the current wait ends (only while <see cref="NsqBackoffPhase.BackingOff"/>).</summary>
    public DateTimeOffset? Until { get; }
}

/// <summary>A handler threw while handling a message (gnsq <c>on_exception</c>); the message is requeued.</summary>
public sealed class NsqHandlerExceptionEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public NsqHandlerExceptionEventArgs(NsqMessage message, Exception error)
    {
        Message = message;
        Error = error;
    }

    /// <summary>The message being handled.</summary>
    public NsqMessage Message { get; }

    /// <summary>What the handler threw.</summary>
    public Exception Error { get; }
}

/// <summary>A Reader connection authenticated (gnsq <c>on_auth</c>: the connection and the parsed response).</summary>
public sealed class NsqReaderAuthenticatedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public NsqReaderAuthenticatedEventArgs(NsqReaderConnection connection, NsqAuthResponse response)
    {
        Connection = connection;
        Response = response;
    }

    /// <summary>The connection that authenticated (the same view <see cref="NsqReader.Connections"/> lists).</summary>
    public NsqReaderConnection Connection { get; }

    /// <summary>The identity nsqd's auth server assigned.</summary>
    public NsqAuthResponse Response { get; }
}
