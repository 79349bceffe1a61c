namespace NsqTyped;

/// <summary>
/// Thrown by a Reader handler to requeue the message with its own delay and backoff choice instead
/// of the Reader's <see cref="NsqReaderOptions.RequeueDelay"/> (gnsq's <c>NSQRequeueMessage</c>).
/// Unlike any other exception it does not raise <see cref="NsqReader.HandlerException"/>.
/// </summary>
/// <example>
/// <code>
/// if (!dependency.IsAvailable) throw new NsqRequeueException(TimeSpan.FromSeconds(30), backoff: false);
/// </code>
/// </example>
public class NsqRequeueException : NsqException
{
    /// <summary>Requeues with the Reader's requeue delay and <see cref="NsqReaderOptions.BackoffOnRequeue"/>.</summary>
    public NsqRequeueException()
        : this(null, null)
    {
    }

    /// <summary>Requeues with <paramref name="delay"/> and, when given, <paramref name="backoff"/>.</summary>
    /// <param name="delay">Redelivery delay; <see langword="null"/> uses <see cref="NsqReaderOptions.RequeueDelay"/>.</param>
    /// <param name="backoff">Whether the Reader backs off; <see langword="null"/> uses <see cref="NsqReaderOptions.BackoffOnRequeue"/>.</param>
    /// <param name="message">Why the message is requeued, for logs.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    public NsqRequeueException(TimeSpan? delay, bool? backoff = null, string? message = null)
        : base(message ?? "The handler asked for the message to be requeued.")
    {
        if (delay is { } d)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(d, TimeSpan.Zero, nameof(delay));
        }

        Delay = delay;
        Backoff = backoff;
    }

    /// <summary>Redelivery delay; <see langword="null"/> means the Reader's <see cref="NsqReaderOptions.RequeueDelay"/>.</summary>
    public TimeSpan? Delay { get; }

    /// <summary>Whether to back off; <see langword="null"/> means the Reader's <see cref="NsqReaderOptions.BackoffOnRequeue"/>.</summary>
    public bool? Backoff { get; }
}
