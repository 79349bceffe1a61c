using NsqTyped.Protocol;

namespace NsqTyped;

/// <summary>A message arrived (gnsq <c>on_message</c>). Respond to it with FIN or REQ.</summary>
public sealed class NsqMessageEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public NsqMessageEventArgs(NsqMessage message) => Message = message;

    /// <summary>The message; its body is a private copy that stays valid.</summary>
    public NsqMessage Message { get; }
}

/// <summary>A response frame other than <c>_heartbeat_</c> arrived (gnsq <c>on_response</c>): <c>OK</c>, <c>CLOSE_WAIT</c>, JSON.</summary>
public sealed class NsqResponseEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public NsqResponseEventArgs(ReadOnlyMemory<byte> data) => Data = data;

    /// <summary>The response data (a private copy).</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The response as UTF-8 text.</summary>
    public override string ToString() => System.Text.Encoding.UTF8.GetString(Data.Span);
}

/// <summary>
/// An error frame arrived (gnsq <c>on_error</c>), or, on a Reader, a connection was refused for good (an AUTH or TLS
/// refusal that retrying cannot fix until the configuration changes).
/// </summary>
public sealed class NsqErrorEventArgs : EventArgs
{
    /// <summary>Creates the event data for an error frame.</summary>
    public NsqErrorEventArgs(NsqServerException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Error = error;
        Exception = error;
    }

    /// <summary>Creates the event data for a refusal that is not an error frame (e.g. an <see cref="NsqHandshakeRefusedException"/>).</summary>
    /// <param name="exception">The failure; when it is an <see cref="NsqServerException"/>, <see cref="Error"/> is it too.</param>
    public NsqErrorEventArgs(NsqException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        Error = exception as NsqServerException;
        Exception = exception;
    }

    /// <summary>
    /// The error frame; when <see cref="NsqServerException.IsFatal"/>, the connection is closed right after.
    /// <see langword="null"/> only for a refusal that is not an error frame (a TLS refusal): see <see cref="Exception"/>.
    /// </summary>
    public NsqServerException? Error { get; }

    /// <summary>What went wrong, always set: <see cref="Error"/> for an error frame, otherwise the refusal (e.g. an <see cref="NsqHandshakeRefusedException"/>).</summary>
    public NsqException Exception { get; }
}

/// <summary>FIN was sent for a message (gnsq <c>on_finish</c>).</summary>
public sealed class NsqFinishedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public NsqFinishedEventArgs(NsqMessageId messageId) => MessageId = messageId;

    /// <summary>The finished message's id.</summary>
    public NsqMessageId MessageId { get; }
}

/// <summary>TOUCH was sent for a message (gnsq <c>on_touch</c>).</summary>
public sealed class NsqTouchedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public NsqTouchedEventArgs(NsqMessageId messageId) => MessageId = messageId;

    /// <summary>The touched message's id.</summary>
    public NsqMessageId MessageId { get; }
}

/// <summary>REQ was sent for a message (gnsq <c>on_requeue</c>).</summary>
public sealed class NsqRequeuedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public NsqRequeuedEventArgs(NsqMessageId messageId, TimeSpan delay, bool backoff)
    {
        MessageId = messageId;
        Delay = delay;
        Backoff = backoff;
    }

    /// <summary>The requeued message's id.</summary>
    public NsqMessageId MessageId { get; }

    /// <summary>The requested redelivery delay.</summary>
    public TimeSpan Delay { get; }

    /// <summary>Whether the requeue asked a Reader to back off.</summary>
    public bool Backoff { get; }
}

/// <summary>AUTH succeeded (gnsq <c>on_auth</c>).</summary>
public sealed class NsqAuthenticatedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public NsqAuthenticatedEventArgs(NsqAuthResponse response) => Response = response;

    /// <summary>The identity nsqd's auth server assigned.</summary>
    public NsqAuthResponse Response { get; }
}

/// <summary>The connection closed (gnsq <c>on_close</c>); always the last event of a connection.</summary>
public sealed class NsqConnectionClosedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public NsqConnectionClosedEventArgs(Exception? error) => Error = error;

    /// <summary>Why it closed; <see langword="null"/> when the application disposed it.</summary>
    public Exception? Error { get; }
}
