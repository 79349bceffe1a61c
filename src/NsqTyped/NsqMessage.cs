using NsqTyped.Protocol;

namespace NsqTyped;

/// <summary>
/// A message delivered by nsqd. Respond exactly once with <see cref="FinishAsync"/> or
/// <see cref="RequeueAsync"/> (<see cref="TouchAsync"/> may be called any number of times before);
/// the response goes to the connection that delivered it. A message nobody responds to is
/// redelivered by nsqd after its timeout: nothing is lost.
/// </summary>
public sealed class NsqMessage
{
    private readonly INsqMessageResponder _responder;

    // A byte, not an int: the fields then take 55 bytes instead of 58, and the object (with its 16-byte header,
    // rounded to 8) 72 bytes instead of 80. It is the one allocation per consumed message.
    private byte _responded;

    /// <summary>Creates a message. The runtime creates them; tests may too, with their own responder.</summary>
    /// <param name="id">The message id.</param>
    /// <param name="attempts">Delivery attempts including this one.</param>
    /// <param name="timestampNanoseconds">Publish time in nanoseconds since the Unix epoch.</param>
    /// <param name="body">The body; the message keeps it as given, so it must not change afterwards.</param>
    /// <param name="responder">Where FIN/REQ/TOUCH go.</param>
    public NsqMessage(NsqMessageId id, ushort attempts, long timestampNanoseconds, ReadOnlyMemory<byte> body, INsqMessageResponder responder)
    {
        ArgumentNullException.ThrowIfNull(responder);
        Id = id;
        Attempts = attempts;
        TimestampNanoseconds = timestampNanoseconds;
        Body = body;
        _responder = responder;
    }

    /// <summary>The 16-byte message id.</summary>
    public NsqMessageId Id { get; }

    /// <summary>Delivery attempts including this one (1 on first delivery).</summary>
    public ushort Attempts { get; }

    /// <summary>Publish time in nanoseconds since the Unix epoch.</summary>
    public long TimestampNanoseconds { get; }

    /// <summary>Publish time (set by nsqd when the message was published, not when it was delivered).</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.UnixEpoch.AddTicks(TimestampNanoseconds / 100);

    /// <summary>The message body.</summary>
    /// <remarks>
    /// It stays valid and unchanged for as long as it is referenced, after FIN or REQ too: the client never
    /// reuses its memory. To save an allocation per message, bodies of up to 1 KiB that arrive on the same
    /// connection are carved out of one shared 8 KiB array (<c>MemoryMarshal.TryGetArray</c> returns a
    /// segment of it; the bytes outside the segment belong to other messages): never write into a body.
    /// Keeping a body keeps that array alive, so to hold a few small bodies for long, keep
    /// <c>Body.ToArray()</c> instead.
    /// </remarks>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>
    /// The size of a body above the connection's read limit that was read past instead of held
    /// (<see cref="Body"/> is then empty); 0 for every ordinary message.
    /// </summary>
    internal int TooLargeBodySize { get; init; }

    /// <summary>Where FIN/REQ/TOUCH go (for a Reader's messages: the delivering connection's session).</summary>
    internal INsqMessageResponder Responder => _responder;

    /// <summary>Whether <see cref="FinishAsync"/> or <see cref="RequeueAsync"/> has been called.</summary>
    public bool HasResponded => Volatile.Read(ref _responded) != 0;

    /// <summary>Tells nsqd the message was processed (FIN).</summary>
    /// <exception cref="InvalidOperationException">The message was already finished or requeued.</exception>
    public ValueTask FinishAsync(CancellationToken cancellationToken = default)
    {
        MarkResponded();
        return _responder.FinishAsync(this, cancellationToken);
    }

    /// <summary>Asks nsqd to deliver the message again after <paramref name="delay"/> (REQ).</summary>
    /// <param name="delay">Delay before redelivery; <see langword="null"/> or zero means at once. A message delivered by a bare <see cref="NsqdConnection"/> refuses a delay above <see cref="NsqdConnectionOptions.MaxReqTimeout"/>; within an <see cref="NsqReader"/> nsqd clamps it to its max-req-timeout.</param>
    /// <param name="backoff">Whether a Reader should treat this as a failure and back off.</param>
    /// <param name="cancellationToken">Cancels sending the command.</param>
    /// <exception cref="InvalidOperationException">The message was already finished or requeued.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    public ValueTask RequeueAsync(TimeSpan? delay = null, bool backoff = true, CancellationToken cancellationToken = default)
    {
        var d = delay ?? TimeSpan.Zero;
        ArgumentOutOfRangeException.ThrowIfLessThan(d, TimeSpan.Zero, nameof(delay));
        MarkResponded();
        return _responder.RequeueAsync(this, d, backoff, cancellationToken);
    }

    /// <summary>Resets the message's server-side timeout (TOUCH), for handlers that need longer.</summary>
    /// <exception cref="InvalidOperationException">The message was already finished or requeued.</exception>
    public ValueTask TouchAsync(CancellationToken cancellationToken = default)
    {
        if (HasResponded)
        {
            throw new InvalidOperationException($"Message {Id} has already been responded to; it can no longer be touched.");
        }

        return _responder.TouchAsync(this, cancellationToken);
    }

    /// <summary>Marks the message answered for a response the runtime sends itself; false when it already was.</summary>
    internal bool TryMarkResponded() => Interlocked.Exchange(ref _responded, (byte)1) == 0;

    private void MarkResponded()
    {
        if (!TryMarkResponded())
        {
            throw new InvalidOperationException($"Message {Id} has already been finished or requeued.");
        }
    }
}
