namespace NsqTyped.Internal;

/// <summary>
/// A command was refused before any byte of it was written because the connection was already
/// closed. A producer may safely try another connection: nsqd cannot have seen the publish.
/// </summary>
internal sealed class NsqNotSentException : NsqConnectionException
{
    public NsqNotSentException(string message, Exception? innerException) : base(message, innerException) { }
}
