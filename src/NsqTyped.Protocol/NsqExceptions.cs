namespace NsqTyped;

/// <summary>Base type of every exception NsqTyped throws for NSQ-specific failures.</summary>
public class NsqException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    public NsqException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    public NsqException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// Data received from a server (or, in the embedded server, from a client) does not follow
/// the NSQ wire format: truncated or oversized frames, unknown frame types, short message frames.
/// The connection it came from cannot be trusted any more and is closed.
/// </summary>
public class NsqProtocolException : NsqException
{
    /// <summary>Creates a protocol exception describing what was malformed.</summary>
    public NsqProtocolException(string message) : base(message) { }

    /// <summary>Creates a protocol exception with the exception that caused it.</summary>
    public NsqProtocolException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// nsqd answered with an error frame (<c>E_INVALID</c>, <c>E_BAD_TOPIC</c>, ...).
/// </summary>
/// <remarks>
/// Only <see cref="NsqErrorCode.FinFailed"/>, <see cref="NsqErrorCode.ReqFailed"/> and
/// <see cref="NsqErrorCode.TouchFailed"/> leave the connection open; nsqd closes the connection
/// after every other error (<see cref="IsFatal"/>).
/// </remarks>
public class NsqServerException : NsqException
{
    /// <summary>Creates a server exception from the parts of an error frame.</summary>
    /// <param name="codeText">The first word of the error frame, e.g. <c>E_BAD_TOPIC</c>.</param>
    /// <param name="description">The rest of the error frame.</param>
    public NsqServerException(string codeText, string description)
        : base(description.Length == 0 ? codeText : codeText + " " + description)
    {
        CodeText = codeText;
        Description = description;
        Code = NsqErrors.ParseCode(codeText);
    }

    /// <summary>The error code as sent by the server, e.g. <c>E_BAD_TOPIC</c>.</summary>
    public string CodeText { get; }

    /// <summary>The error code; <see cref="NsqErrorCode.Unknown"/> for codes this library does not know.</summary>
    public NsqErrorCode Code { get; }

    /// <summary>The human-readable text after the code.</summary>
    public string Description { get; }

    /// <summary>Whether nsqd closes the connection after this error.</summary>
    public bool IsFatal => NsqErrors.IsFatal(Code);
}
