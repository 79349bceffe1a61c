namespace NsqTyped;

/// <summary>
/// Publishes raw message bodies to NSQ topics. Implemented by <c>NsqProducer</c> and by
/// <c>NsqdConnection</c>; the typed <c>Publish&lt;Topic&gt;Async</c> methods generated from
/// <c>[NsqTopic]</c> types are extension methods on this interface.
/// </summary>
/// <remarks>
/// Every call completes when nsqd acknowledged the publish (<c>OK</c>) or throws: an
/// <see cref="NsqServerException"/> for an error frame, an <see cref="NsqConnectionException"/> when
/// the connection failed, an <see cref="NsqTimeoutException"/> on timeout, or an
/// <see cref="OperationCanceledException"/> when the token fired. A publish is never dropped silently.
/// </remarks>
public interface INsqPublisher
{
    /// <summary>Publishes one message (PUB).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="body">A non-empty body no larger than the server's max message size.</param>
    /// <param name="cancellationToken">Cancels waiting for the acknowledgement.</param>
    ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default);

    /// <summary>Publishes several messages atomically in one round trip (MPUB).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="bodies">At least one non-empty body.</param>
    /// <param name="cancellationToken">Cancels waiting for the acknowledgement.</param>
    ValueTask PublishManyAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, CancellationToken cancellationToken = default);

    /// <summary>Publishes one message that nsqd delivers after <paramref name="delay"/> (DPUB).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="body">A non-empty body.</param>
    /// <param name="delay">Delay before delivery, at least zero and at most the server's max-req-timeout.</param>
    /// <param name="cancellationToken">Cancels waiting for the acknowledgement.</param>
    ValueTask PublishDeferredAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, CancellationToken cancellationToken = default);
}
