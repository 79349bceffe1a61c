using NsqTyped.Protocol;

namespace NsqTyped;

/// <summary>A message exceeded <see cref="NsqReaderOptions.MaxTries"/> and was finished without calling the handler (gnsq <c>on_giving_up</c>).</summary>
public sealed class NsqGivingUpEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public NsqGivingUpEventArgs(NsqMessage message) => Message = message;

    /// <summary>The message given up on.</summary>
    public NsqMessage Message { get; }
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
