namespace NsqTyped;

/// <summary>
/// Thrown by a Reader handler when the message can never be handled (a poison message): the Reader gives
/// it up at once, on any attempt, without backing off and without spending retries on it. Giving up
/// raises <see cref="NsqReader.GivingUp"/>, runs <see cref="NsqReaderOptions.GivingUpHook"/>, publishes
/// the body to the dead-letter topic when one is configured, then finishes the message.
/// </summary>
/// <example>
/// <code>
/// if (order.Total &lt; 0) throw new NsqPermanentFailureException($"Order {order.Id} has a negative total.");
/// </code>
/// </example>
public class NsqPermanentFailureException : NsqException
{
    /// <summary>Creates the exception with a default message.</summary>
    public NsqPermanentFailureException()
        : base("The handler declared the message a permanent failure.")
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    /// <param name="message">Why the message can never be handled, for logs and the giving-up event.</param>
    public NsqPermanentFailureException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> and the failure behind it.</summary>
    /// <param name="message">Why the message can never be handled.</param>
    /// <param name="innerException">The failure behind it.</param>
    public NsqPermanentFailureException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A typed handler's message body could not be deserialized (malformed, the wrong shape, or JSON
/// <c>null</c> where the type does not allow it): a permanent failure, given up at once.
/// </summary>
public sealed class NsqDeserializationException : NsqPermanentFailureException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What could not be deserialized.</param>
    /// <param name="innerException">The serializer's exception.</param>
    public NsqDeserializationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A delivered message's body was larger than <see cref="NsqdConnectionOptions.MaxReadMessageSize"/>: the connection
/// read past it without buffering it, so no handler can ever see it. A Reader gives it up at once and finishes it; it
/// is not dead-lettered, because its body was never held. Raise the limit to receive such messages.
/// </summary>
public sealed class NsqMessageTooLargeException : NsqPermanentFailureException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="bodySize">The size of the body nsqd delivered, in bytes.</param>
    /// <param name="limit">The read limit it exceeded (<see cref="NsqdConnectionOptions.MaxReadMessageSize"/>).</param>
    public NsqMessageTooLargeException(int bodySize, int limit)
        : base($"The message body is too large: {bodySize} bytes, above the read limit of {limit} bytes (NsqdConnectionOptions.MaxReadMessageSize). It was read past without being buffered.")
    {
        BodySize = bodySize;
        Limit = limit;
    }

    /// <summary>The size of the body nsqd delivered, in bytes.</summary>
    public int BodySize { get; }

    /// <summary>The read limit it exceeded.</summary>
    public int Limit { get; }
}
