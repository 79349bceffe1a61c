namespace NsqTyped;

/// <summary>
/// Handles the messages of an <see cref="NsqReader"/> (the interface form of gnsq's <c>message_handler</c>).
/// </summary>
/// <remarks>
/// Returning normally finishes the message (unless it already responded or
/// <see cref="NsqReaderOptions.ManualFinish"/> is set); throwing requeues it (see
/// <see cref="NsqRequeueException"/>). Up to <see cref="NsqReaderOptions.MaxConcurrency"/> calls run at once.
/// </remarks>
public interface INsqMessageHandler
{
    /// <summary>Handles one message.</summary>
    /// <param name="message">The delivered message.</param>
    /// <param name="cancellationToken">Fires when the Reader stops without waiting any longer for handlers.</param>
    ValueTask HandleAsync(NsqMessage message, CancellationToken cancellationToken);
}
