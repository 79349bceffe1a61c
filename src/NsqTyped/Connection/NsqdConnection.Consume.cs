using System.Buffers;
using NsqTyped.Internal;
using NsqTyped.Protocol;

namespace NsqTyped;

/// <summary>
/// Where a consuming connection hands its messages when a higher-level consumer (the Reader) owns
/// it: straight from the read loop, one <see cref="NsqMessage"/> per frame, no event arguments.
/// </summary>
internal interface INsqMessageSink
{
    /// <summary>The responder every message of this connection carries (FIN/REQ/TOUCH go through it).</summary>
    INsqMessageResponder Responder { get; }

    /// <summary>Takes the message without waiting; false when the consumer's bounded queue is full.</summary>
    bool TryDeliver(NsqMessage message);

    /// <summary>Waits for room in the consumer's queue (only after <see cref="TryDeliver"/> returned false).</summary>
    ValueTask DeliverAsync(NsqMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// At a message that ends its read (nothing else waits behind it): true when the consumer takes it through
    /// <see cref="RunInline"/> rather than its queue; the message then counts as delivered.
    /// </summary>
    bool TryClaimInline();

    /// <summary>
    /// Runs a claimed message's handler on the calling thread up to its first wait: the thread the read loop
    /// leaves once its next read is registered, or a thread-pool thread. Never throws.
    /// </summary>
    void RunInline(NsqMessage message);
}

public sealed partial class NsqdConnection
{
    private readonly BodySlab _bodies = new();
    private INsqMessageSink? _sink;
    private bool _readyHeld;

    /// <summary>When the last message was delivered or answered on this connection (<see cref="Environment.TickCount64"/>); 0 before the first.</summary>
    internal long LastActivity => _ledger.LastActivity;

    /// <summary>
    /// Routes every message to <paramref name="sink"/> instead of <see cref="MessageReceived"/>. Set
    /// before connecting; the Reader does it for each of its connections.
    /// </summary>
    internal void AttachSink(INsqMessageSink sink)
    {
        if (Volatile.Read(ref _state) != StateCreated)
        {
            throw new InvalidOperationException("A message sink is attached before the connection connects.");
        }

        _sink = sink;
    }

    /// <summary>Completes when nothing is in flight here: every message answered or expired, or the connection closed.</summary>
    internal Task WaitInFlightEmptyAsync(CancellationToken cancellationToken) => _ledger.WaitEmptyAsync(cancellationToken);

    /// <summary>
    /// REQ, without the <see cref="NsqdConnectionOptions.MaxReqTimeout"/> check (a Reader's delays are checked by
    /// its options, and nsqd clamps a handler's own). With <paramref name="pause"/> (a failure that backs off) it is
    /// preceded in the same write by RDY 0 while the connection still has a window open: nsqd processes commands
    /// in order, so it cannot hand the freed slot straight back before the Reader's backoff takes hold (go-nsq
    /// writes RDY 0 first too).
    /// </summary>
    internal ValueTask RequeueAsync(NsqMessageId messageId, TimeSpan delay, bool backoff, bool pause, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        lock (_writeLock)
        {
            if (!CanSend)
            {
                return NotSent("REQ");
            }

            if (pause)
            {
                if (_lastReady > 0)
                {
                    NsqCommandWriter.WriteRdy(_buffer, 0);
                    _lastReady = 0;
                }

                // Until the owner has taken the failure into account, no RDY it decided earlier may reopen the window.
                _readyHeld = true;
            }

            NsqCommandWriter.WriteReq(_buffer, messageId, (long)delay.TotalMilliseconds);

            // Out of the ledger before the write loop can send it: once nsqd has it, the freed slot may bring a
            // new message at once, and the RDY ceiling check must not count the answered one with it.
            _ledger.Remove(messageId);
        }

        SendAnswer();
        if (Requeued is not null)
        {
            RaiseEvent(new NsqRequeuedEventArgs(messageId, delay, backoff));
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// RDY for the Reader's controller: an increase is dropped while a failure's RDY 0 is held (from the
    /// pausing <see cref="RequeueAsync(NsqMessageId, TimeSpan, bool, bool, CancellationToken)"/> until
    /// <see cref="ReleaseReadyHold"/>), so a decision taken before the failure cannot undo its pause.
    /// </summary>
    internal void ReadyFromController(long count)
    {
        lock (_writeLock)
        {
            if (_state != StateOpen || (_readyHeld && count > 0))
            {
                return;
            }

            NsqCommandWriter.WriteRdy(_buffer, count);
            _lastReady = count;
            _rdyCeiling = Math.Max(_rdyCeiling, count);
        }

        SignalWriter();
    }

    /// <summary>
    /// RDY 0 at once (when a window is open) and hold it like a failure's REQ does: another connection of the same
    /// Reader failed, and nsqd must stop refilling this one before the Reader's actor has even heard of it.
    /// </summary>
    internal void PauseReady()
    {
        lock (_writeLock)
        {
            if (_state != StateOpen)
            {
                return;
            }

            _readyHeld = true;
            if (_lastReady == 0)
            {
                return;
            }

            NsqCommandWriter.WriteRdy(_buffer, 0);
            _lastReady = 0;
        }

        SignalWriter();
    }

    /// <summary>The owner processed the failure that paused this connection: its RDY decisions apply again.</summary>
    internal void ReleaseReadyHold()
    {
        lock (_writeLock)
        {
            _readyHeld = false;
        }
    }

    /// <summary>
    /// The margin the RDY ceiling check allows entries near their <c>msg_timeout</c>: nsqd may have taken them
    /// back (and refilled the slot) up to one network latency before the ledger expires them. 2 s, at most
    /// half the timeout.
    /// </summary>
    internal static TimeSpan CeilingGrace(TimeSpan msgTimeout) =>
        TimeSpan.FromMilliseconds(Math.Min(2_000, msgTimeout.TotalMilliseconds / 2));

    /// <summary>Enters a delivered message in the ledger.</summary>
    /// <exception cref="NsqProtocolException">nsqd pushed more messages than any RDY count this connection sent.</exception>
    private void TrackInFlight(NsqMessageId id)
    {
        var inFlight = _ledger.Add(id);
        var ceiling = Volatile.Read(ref _rdyCeiling);
        if (inFlight > ceiling && _ledger.CountCertainlyHeld(CeilingGrace(_ledger.Timeout)) > ceiling)
        {
            throw new NsqProtocolException(
                $"nsqd {Address} has {inFlight} messages in flight on this connection, more than the highest RDY count ever sent on it ({ceiling}): a protocol violation.");
        }
    }

    /// <summary>
    /// The read loop's handling of one message frame: into the ledger, then one <see cref="NsqMessage"/>
    /// (the body is the one copy out of the receive buffer, into a <see cref="BodySlab"/>) to the sink or the
    /// <see cref="MessageReceived"/> event. A message that ends its read (<paramref name="last"/>) may be claimed
    /// by the sink to run inline. Returns the message when the sink's queue is full and the read loop must wait for room.
    /// </summary>
    /// <exception cref="NsqProtocolException">nsqd pushed more messages than any RDY count this connection sent.</exception>
    private NsqMessage? OnMessageFrame(in NsqFrame frame, bool last)
    {
        var view = frame.AsMessage();
        TrackInFlight(view.Id);

        var sink = _sink;
        if (sink is not null)
        {
            var message = new NsqMessage(view.Id, view.Attempts, view.TimestampNanoseconds, _bodies.Copy(view.Body), sink.Responder);
            if (last && sink.TryClaimInline())
            {
                // Run on this thread once the read loop's next read is registered (NextRead).
                _inlinePending = message;
                return null;
            }

            return sink.TryDeliver(message) ? null : message;
        }

        if (MessageReceived is null)
        {
            Log.MessageWithoutHandler(_logger, Address);
            return null;
        }

        RaiseEvent(new NsqMessageEventArgs(new NsqMessage(view.Id, view.Attempts, view.TimestampNanoseconds, _bodies.Copy(view.Body), this)));
        return null;
    }
}
