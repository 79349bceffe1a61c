namespace NsqTyped;

/// <summary>The connection to nsqd failed, was closed, or could not be established.</summary>
public class NsqConnectionException : NsqException
{
    /// <summary>Creates a connection exception.</summary>
    public NsqConnectionException(string message) : base(message) { }

    /// <summary>Creates a connection exception with its cause.</summary>
    public NsqConnectionException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>An operation did not complete within its configured timeout.</summary>
public class NsqTimeoutException : NsqException
{
    /// <summary>Creates a timeout exception.</summary>
    public NsqTimeoutException(string message) : base(message) { }

    /// <summary>Creates a timeout exception with its cause.</summary>
    public NsqTimeoutException(string message, Exception? innerException) : base(message, innerException) { }
}
