namespace NsqTyped;

/// <summary>
/// Where an <see cref="NsqMessage"/>'s FIN/REQ/TOUCH go: the connection that delivered it (wrapped
/// by the Reader, which also feeds its backoff and events). Implement it to unit-test handlers
/// without a server.
/// </summary>
public interface INsqMessageResponder
{
    /// <summary>Sends FIN for <paramref name="message"/>.</summary>
    ValueTask FinishAsync(NsqMessage message, CancellationToken cancellationToken);

    /// <summary>Sends REQ for <paramref name="message"/> with <paramref name="delay"/>; <paramref name="backoff"/> asks the Reader to back off.</summary>
    ValueTask RequeueAsync(NsqMessage message, TimeSpan delay, bool backoff, CancellationToken cancellationToken);

    /// <summary>Sends TOUCH for <paramref name="message"/>, resetting its server-side timeout.</summary>
    ValueTask TouchAsync(NsqMessage message, CancellationToken cancellationToken);
}
