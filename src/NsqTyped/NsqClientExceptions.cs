namespace NsqTyped;

/// <summary>The connection to nsqd failed, was closed, or could not be established.</summary>
public class NsqConnectionException : NsqException
{
    /// <summary>Creates a connection exception.</summary>
    public NsqConnectionException(string message) : base(message) { }

    /// <summary>Creates a connection exception with its cause.</summary>
    public NsqConnectionException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// nsqd, or the TLS layer in front of it, refused the connection for a reason that retrying does not fix:
/// the certificate validation failed (unknown CA, name mismatch), nsqd requires a client certificate or
/// rejected it, nsqd does not offer the TLS that was asked for, AUTH is required without a secret, or the
/// address is not nsqd's TCP port at all. The message names the cause; the inner exception is the
/// underlying error. Producers and Readers keep retrying in the background (the configuration may be
/// fixed on the server), but <see cref="NsqProducer.ConnectAsync"/> and publishes fail at once.
/// </summary>
public sealed class NsqHandshakeRefusedException : NsqConnectionException
{
    /// <summary>Creates a refusal.</summary>
    public NsqHandshakeRefusedException(string message) : base(message) { }

    /// <summary>Creates a refusal with its cause.</summary>
    public NsqHandshakeRefusedException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>An operation did not complete within its configured timeout.</summary>
public class NsqTimeoutException : NsqException
{
    /// <summary>Creates a timeout exception.</summary>
    public NsqTimeoutException(string message) : base(message) { }

    /// <summary>Creates a timeout exception with its cause.</summary>
    public NsqTimeoutException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// A command was refused before any byte of it was written, because its connection was closed or closing
/// (disposed, or failed). nsqd cannot have seen it, so it is safe to send again on another connection:
/// <see cref="NsqProducer"/> does that itself and surfaces this exception only when no connection could take
/// the publish. <see cref="Exception.InnerException"/> is the reason the connection closed, when there is one.
/// Catch <see cref="NsqConnectionException"/> to handle every connection failure alike.
/// </summary>
public sealed class NsqNotSentException : NsqConnectionException
{
    /// <summary>Creates a not-sent exception.</summary>
    /// <param name="message">Names the command and the connection.</param>
    public NsqNotSentException(string message) : base(message) { }

    /// <summary>Creates a not-sent exception with the reason the connection closed.</summary>
    /// <param name="message">Names the command and the connection.</param>
    /// <param name="innerException">Why the connection closed, or null.</param>
    public NsqNotSentException(string message, Exception? innerException) : base(message, innerException) { }
}
