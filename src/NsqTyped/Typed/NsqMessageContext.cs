using NsqTyped.Protocol;

namespace NsqTyped;

/// <summary>
/// What a typed handler may know and do about the message it handles besides its typed body:
/// the raw <see cref="NsqMessage"/>, its topic and channel, and requeue/touch/finish.
/// Take it as the parameter after the message: <c>ValueTask M(OrderCreated order, NsqMessageContext context)</c>.
/// </summary>
public sealed class NsqMessageContext
{
    /// <summary>Creates a context. Generated dispatchers create them; tests may too.</summary>
    /// <param name="message">The delivered message.</param>
    /// <param name="topic">The topic it was delivered from.</param>
    /// <param name="channel">The channel it was delivered on.</param>
    public NsqMessageContext(NsqMessage message, string topic, string channel)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(channel);
        Message = message;
        Topic = topic;
        Channel = channel;
    }

    /// <summary>The raw message (id, attempts, timestamp, body).</summary>
    public NsqMessage Message { get; }

    /// <summary>The topic the message was delivered from.</summary>
    public string Topic { get; }

    /// <summary>The channel the message was delivered on.</summary>
    public string Channel { get; }

    /// <summary>The message id.</summary>
    public NsqMessageId Id => Message.Id;

    /// <summary>Delivery attempts including this one (1 on first delivery).</summary>
    public ushort Attempts => Message.Attempts;

    /// <summary>When the message was published.</summary>
    public DateTimeOffset Timestamp => Message.Timestamp;

    /// <summary>Whether the handler already finished or requeued the message itself.</summary>
    public bool HasResponded => Message.HasResponded;

    /// <summary>Asks nsqd to redeliver the message later (REQ); the consumer then does not finish it.</summary>
    /// <param name="delay">Delay before redelivery; <see langword="null"/> or zero means at once.</param>
    /// <param name="backoff">Whether the consumer should treat this as a failure and back off.</param>
    /// <param name="cancellationToken">Cancels sending the command.</param>
    /// <exception cref="InvalidOperationException">The message was already finished or requeued.</exception>
    public ValueTask RequeueAsync(TimeSpan? delay = null, bool backoff = true, CancellationToken cancellationToken = default) =>
        Message.RequeueAsync(delay, backoff, cancellationToken);

    /// <summary>Resets the message's server-side timeout (TOUCH), for handlers that need longer.</summary>
    /// <exception cref="InvalidOperationException">The message was already finished or requeued.</exception>
    public ValueTask TouchAsync(CancellationToken cancellationToken = default) => Message.TouchAsync(cancellationToken);

    /// <summary>Finishes the message now (FIN) instead of when the handler returns.</summary>
    /// <exception cref="InvalidOperationException">The message was already finished or requeued.</exception>
    public ValueTask FinishAsync(CancellationToken cancellationToken = default) => Message.FinishAsync(cancellationToken);
}
