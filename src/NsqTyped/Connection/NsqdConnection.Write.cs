using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using NsqTyped.Diagnostics;
using NsqTyped.Internal;
using NsqTyped.Protocol;

namespace NsqTyped;

public sealed partial class NsqdConnection
{
    // A batch buffer that grew this large for one big MPUB is dropped rather than kept for the connection's lifetime.
    private const int RetainedBufferCapacity = 1024 * 1024;

    // Commands per topic that may await their response at once. A publish waits in its topic's queue while any
    // command of the topic is unanswered; the queue goes out when an answer arrives, or without waiting for one
    // once it holds BatchBytes, as long as fewer than this many commands of the topic are unanswered. Several
    // batches in flight keep nsqd busy while the callers of the last one are completed and publish again.
    internal const int MaxUnacknowledgedPerTopic = 4;

    // Waiting publishes of this many MPUB body bytes go out without waiting for an answer (within the limit
    // above): nsqd gets work while a burst of publishes is still being queued, in commands large enough that
    // its cost per command stays small (about 320 messages of 200 bytes; the mpub workload's batches are 40 KB).
    internal const int BatchBytes = 64 * 1024;

    // How long a close waits for queued commands to be written when WriteTimeout is infinite.
    private static readonly TimeSpan DefaultFlushTimeout = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, PublishQueue> _queues = new(StringComparer.Ordinal);
    private bool _draining;

    // Read loop only: an answered lone command whose caller is told once the read loop has started its next read.
    private PendingOperation? _deferred;

    private readonly TimeoutBuckets _timeouts;
    private Timer? _lingerTimer;
    private bool _lingerArmed;

    // 1 while the write loop or a caller writes to the stream: one writer at a time.
    private int _writerBusy;

    // A caller's write the socket did not complete at once, for the write loop to finish.
    private HandOff? _handoff;

    /// <summary>Under the write lock: whether new commands are accepted (open, and not flushing for a close).</summary>
    private bool CanSend => _state == StateOpen && !_draining;

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The topic is invalid, or the body is empty or larger than <see cref="NsqdConnectionOptions.MaxMessageSize"/>.</exception>
    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
        NsqTelemetry.PublishObserved
            ? NsqTelemetry.ObservePublishAsync(PublishAsync(topic, body, Options.ReadTimeout, cancellationToken), topic, 1, "PUB")
            : PublishAsync(topic, body, Options.ReadTimeout, cancellationToken);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The topic is invalid, the list is empty, a body is empty or too large, or the whole batch exceeds <see cref="NsqdConnectionOptions.MaxBodySize"/>.</exception>
    public ValueTask PublishManyAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, CancellationToken cancellationToken = default) =>
        NsqTelemetry.PublishObserved
            ? NsqTelemetry.ObservePublishAsync(PublishManyAsync(topic, bodies, Options.ReadTimeout, cancellationToken), topic, bodies.Count, "MPUB")
            : PublishManyAsync(topic, bodies, Options.ReadTimeout, cancellationToken);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The topic is invalid, or the body is empty or too large.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative or above <see cref="NsqdConnectionOptions.MaxReqTimeout"/>.</exception>
    public ValueTask PublishDeferredAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, CancellationToken cancellationToken = default) =>
        NsqTelemetry.PublishObserved
            ? NsqTelemetry.ObservePublishAsync(PublishDeferredAsync(topic, body, delay, Options.ReadTimeout, cancellationToken), topic, 1, "DPUB")
            : PublishDeferredAsync(topic, body, delay, Options.ReadTimeout, cancellationToken);

    internal ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan timeout, CancellationToken cancellationToken)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        ThrowIfInvalidBody(body.Length, nameof(body));
        return PublishAsync(topic, body, timeout, coalesce: true, linger: TimeSpan.Zero, cancellationToken);
    }

    /// <summary>
    /// PUB, or coalesced: while a command for <paramref name="topic"/> is unacknowledged, the publish waits in
    /// the topic's queue and goes out with the others as one MPUB when that acknowledgement arrives (or at
    /// once when the queue reaches <see cref="NsqdConnectionOptions.MaxBodySize"/>). A lone publish is
    /// written at once as PUB, or, with a positive <paramref name="linger"/>, waits that long for company.
    /// The caller validated <paramref name="topic"/> and <paramref name="body"/> (the producer does so once, before picking a connection).
    /// </summary>
    internal ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan timeout, bool coalesce, TimeSpan linger, CancellationToken cancellationToken, IPublishOwner? owner = null)
    {
        Debug.Assert(NsqNames.IsValidTopicName(topic) && body.Length > 0 && body.Length <= Options.MaxMessageSize, "validated by the caller");
        if (cancellationToken.IsCancellationRequested)
        {
            owner?.Completed(1, body.Length);
            return ValueTask.FromCanceled(cancellationToken);
        }

        PendingOperation op;
        bool signal;
        lock (_writeLock)
        {
            if (!CanSend)
            {
                owner?.Completed(1, body.Length);
                return NotSent("PUB");
            }

            op = PendingOperation.Rent(PendingKind.Publish, topic);
            op.Owner = owner;
            op.OwnerBytes = body.Length;
            if (coalesce)
            {
                signal = Coalesce(op, topic, body.Span, linger);
            }
            else
            {
                NsqCommandWriter.WritePub(_buffer, topic, body.Span);
                _pending.Enqueue(op);
                signal = true;
            }

            // Under the write lock, which is also the timeout buckets' lock: no lock of its own.
            op.StartTimeout(timeout, _timeouts);
        }

        op.Observe(cancellationToken);
        if (signal)
        {
            WriteNowOrSignal();
        }
        else
        {
            // Queued behind an unanswered command: written later, but its answer must not wait for caller code.
            OnCommandWritten();
        }

        return op.AsValueTask();
    }

    /// <summary>Under the write lock: writes a lone publish as PUB, or queues it behind its topic's unacknowledged command.</summary>
    /// <returns>Whether something was written for the write loop.</returns>
    private bool Coalesce(PendingOperation op, string topic, ReadOnlySpan<byte> body, TimeSpan linger)
    {
        if (!_queues.TryGetValue(topic, out var queue))
        {
            queue = new PublishQueue(topic);
            _queues.Add(topic, queue);
        }

        if (queue.Count == 0 && queue.Unacknowledged == 0)
        {
            if (linger > TimeSpan.Zero)
            {
                // Nothing to ride on: wait up to the linger window for company.
                op.Activity = NsqTelemetry.CurrentPublish();
                queue.Add(op, body);
                ArmLinger(linger);
                return false;
            }

            NsqCommandWriter.WritePub(_buffer, topic, body);
            op.Queue = queue;
            queue.Unacknowledged++;
            _pending.Enqueue(op);
            return true;
        }

        op.Activity = NsqTelemetry.CurrentPublish();

        // MPUB body: [int32 count] then [int32 size][body] per message; a full queue goes out now.
        var written = queue.Count > 0 && 4L + queue.StagedBytes + 4 + body.Length > Options.MaxBodySize && Send(queue);
        queue.Add(op, body);
        if (queue.StagedBytes >= BatchBytes && queue.Unacknowledged < MaxUnacknowledgedPerTopic)
        {
            written |= Send(queue);
        }

        return written;
    }

    /// <summary>Under the write lock: makes the linger timer send the waiting queues after <paramref name="linger"/>, unless it is already due.</summary>
    private void ArmLinger(TimeSpan linger)
    {
        if (_lingerArmed)
        {
            return;
        }

        _lingerArmed = true;
        _lingerTimer ??= new Timer(static state => ((NsqdConnection)state!).OnLingerElapsed(), this, Timeout.Infinite, Timeout.Infinite);
        _lingerTimer.Change(linger, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The linger window ended: every topic queue that is not waiting for an acknowledgement goes out.</summary>
    private void OnLingerElapsed()
    {
        var written = false;
        lock (_writeLock)
        {
            _lingerArmed = false;
            if (!CanSend)
            {
                return;
            }

            foreach (var queue in _queues.Values)
            {
                if (queue.Count > 0 && queue.Unacknowledged < MaxUnacknowledgedPerTopic)
                {
                    written |= Send(queue);
                }
            }
        }

        if (written)
        {
            SignalWriter();
        }
    }

    /// <summary>Under the write lock: writes a topic's waiting publishes as one command and registers its pending response.</summary>
    private bool Send(PublishQueue queue)
    {
        var first = queue.Drain(_buffer);
        if (first is null)
        {
            return false;
        }

        first.Queue = queue;
        queue.Unacknowledged++;
        _pending.Enqueue(first);
        return true;
    }

    /// <summary>Under the write lock: sends the publishes waiting for <paramref name="topic"/> before another command for it, so per-topic order holds.</summary>
    private void SendQueued(string topic)
    {
        if (_queues.TryGetValue(topic, out var queue) && queue.Count > 0)
        {
            Send(queue);
        }
    }

    /// <summary>
    /// A response frame arrived (on the read loop): it answers the oldest pending command, which must expect
    /// it (OK, or CLOSE_WAIT for CLS). A mismatch means the stream and the FIFO are out of step: the command
    /// fails and the connection closes with an <see cref="NsqProtocolException"/>.
    /// </summary>
    private void CompletePending(in NsqFrame response)
    {
        CompleteDeferred();
        if (!_pending.TryDequeue(out var op))
        {
            Log.UnexpectedResponse(_logger, Address);
            return;
        }

        if (!op.Expects(response))
        {
            var shown = Encoding.ASCII.GetString(response.Data.Slice(0, Math.Min(response.Data.Length, 64)));
            var error = new NsqProtocolException(
                $"nsqd {Address} answered {op.CommandName} with \"{shown}\" instead of {(op.Kind == PendingKind.Close ? "CLOSE_WAIT" : "OK")}: responses are out of step with commands; the connection is closed.");
            CompleteCommand(op, error);
            Close(error);
            return;
        }

        // One lock section for the answered command: its publishes leave the timeout buckets (so their callers
        // return them to the pool without a lock), and its topic's waiting publishes go out as the next command.
        var queue = op.Queue;
        var written = false;
        if (queue is not null || op.IsInBucket)
        {
            lock (_writeLock)
            {
                _timeouts.LeaveChain(op);
                if (queue is not null)
                {
                    queue.Unacknowledged--;
                    written = CanSend && queue.Count > 0 && queue.Unacknowledged < MaxUnacknowledgedPerTopic && Send(queue);
                }
            }
        }

        // The next batch is written before the callers are told, so nsqd has it as early as possible; the read
        // loop writes it itself when no write is in progress (a socket write that does not complete at once goes
        // to the write loop), which saves waking the write loop once per batch.
        if (written)
        {
            WriteNowOrSignal();
        }

        if (op.NextInBatch is null)
        {
            Defer(op);
        }
        else
        {
            CompleteCommand(op, error: null);
        }
    }

    /// <summary>
    /// Read loop: an answered lone command (a synchronous publish's PUB, typically) is claimed now, its room
    /// given back to its producer, and its caller told on the read loop's thread (<see cref="NextRead"/>): just
    /// before the next read is issued on a connection with nothing else to read for, else just after; either way
    /// instead of being queued for another thread-pool thread (a hop, and a thread woken, per publish).
    /// </summary>
    private void Defer(PendingOperation op)
    {
        if (!op.TryClaim())
        {
            // Timed out or canceled meanwhile: nothing to tell the caller.
            op.ReleaseFromQueue();
            return;
        }

        op.Owner?.Completed(1, op.OwnerBytes);
        _deferred = op;
    }

    /// <summary>
    /// Read loop, when it cannot wait for its next read to be registered (the read completed at once, a response or
    /// fatal error arrived, the loop waits for queue room or ends): the caller of the answered command kept back by
    /// <see cref="Defer"/>, and the message claimed to run inline, go through the thread pool as any other completion.
    /// </summary>
    private void CompleteDeferred()
    {
        DispatchInlinePending();
        if (TakeDeferred() is { } op)
        {
            op.SetClaimedResult();
            op.ReleaseFromQueue();
        }
    }

    /// <summary>Read loop: takes the message claimed to run inline, before the read loop's continuation is handed over.</summary>
    private NsqMessage? TakeInlinePending()
    {
        var message = _inlinePending;
        _inlinePending = null;
        return message;
    }

    /// <summary>Read loop: the message claimed to run inline goes to the thread pool instead (the read loop goes on at once).</summary>
    private void DispatchInlinePending()
    {
        if (TakeInlinePending() is { } message)
        {
            Dispatch(message);
        }
    }

    private void Dispatch(NsqMessage message) =>
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Sink.RunInline(state.Message), (Sink: _sink!, Message: message), preferLocal: false);

    /// <summary>Read loop: takes the kept-back answered command, before the read loop's continuation is handed over.</summary>
    private PendingOperation? TakeDeferred()
    {
        var op = _deferred;
        _deferred = null;
        return op;
    }

    /// <summary>A fatal error frame arrived: it answers the oldest pending command, and every publish coalesced into it fails with the same error.</summary>
    private void FailPending(NsqServerException error)
    {
        CompleteDeferred();
        if (_pending.TryDequeue(out var op))
        {
            CompleteCommand(op, error);
        }
    }

    /// <summary>
    /// Completes a command's operation and every operation coalesced with it, and lets the FIFO go of them.
    /// A batch's room among its producer's outstanding publishes is given back in one call before any caller
    /// is told, so a caller that publishes again on completion finds the room.
    /// </summary>
    private static void CompleteCommand(PendingOperation first, Exception? error)
    {
        if (first.NextInBatch is null)
        {
            if (error is null)
            {
                first.TrySetResult();
            }
            else
            {
                first.TrySetException(error);
            }

            first.ReleaseFromQueue();
            return;
        }

        // Claim every operation the response still completes, and give back their room per owner in one call.
        IPublishOwner? owner = null;
        var count = 0;
        long bytes = 0;
        for (var op = first; op is not null; op = op.NextInBatch)
        {
            if (!op.TryClaim())
            {
                op.Claimed = false;
                continue;
            }

            op.Claimed = true;
            if (op.Owner is not { } opOwner)
            {
                continue;
            }

            if (!ReferenceEquals(opOwner, owner))
            {
                owner?.Completed(count, bytes);
                owner = opOwner;
                count = 0;
                bytes = 0;
            }

            count++;
            bytes += op.OwnerBytes;
        }

        owner?.Completed(count, bytes);
        for (var op = first; op is not null;)
        {
            var next = op.NextInBatch;
            op.NextInBatch = null;
            if (op.Claimed)
            {
                if (error is null)
                {
                    op.SetClaimedResult();
                }
                else
                {
                    op.SetClaimedException(error);
                }
            }

            op.ReleaseFromQueue();
            op = next;
        }
    }

    /// <summary>Fails every pending command and every publish still waiting in a topic queue; called once the connection is closed.</summary>
    private void FailEverythingPending(NsqConnectionException failure)
    {
        while (_pending.TryDequeue(out var op))
        {
            CompleteCommand(op, failure);
        }

        lock (_writeLock)
        {
            _lingerTimer?.Dispose();
            foreach (var queue in _queues.Values)
            {
                if (queue.Count > 0)
                {
                    queue.FailAll(new NsqNotSentException(
                        $"Cannot send PUB: the connection to nsqd {Address} closed before the publish was written.", failure.InnerException ?? failure));
                }
            }
        }
    }

    internal ValueTask PublishManyAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, TimeSpan timeout, CancellationToken cancellationToken)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        var payload = PublishValidation.ThrowIfInvalidBatch(bodies, Options.MaxMessageSize, MaxMessageSizeName, nameof(bodies));
        var total = 4 + 4L * bodies.Count + payload;
        PublishValidation.ThrowIfBatchTooLarge(total, Options.MaxBodySize, "NsqdConnectionOptions.MaxBodySize", nameof(bodies));

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ReadOnlySpan<ReadOnlyMemory<byte>> span = bodies switch
        {
            ReadOnlyMemory<byte>[] array => array,
            List<ReadOnlyMemory<byte>> list => CollectionsMarshal.AsSpan(list),
            _ => bodies.ToArray(),
        };

        PendingOperation op;
        lock (_writeLock)
        {
            if (!CanSend)
            {
                return NotSent("MPUB");
            }

            SendQueued(topic);
            NsqCommandWriter.WriteMpub(_buffer, topic, span);
            op = PendingOperation.Rent(PendingKind.Publish, topic);
            _pending.Enqueue(op);
        }

        return SubmitPublish(op, timeout, cancellationToken);
    }

    internal ValueTask PublishDeferredAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, TimeSpan timeout, CancellationToken cancellationToken)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        ThrowIfInvalidBody(body.Length, nameof(body));
        PublishValidation.ThrowIfInvalidDelay(delay, Options.MaxReqTimeout, MaxReqTimeoutName, "DPUB", nameof(delay));
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        PendingOperation op;
        lock (_writeLock)
        {
            if (!CanSend)
            {
                return NotSent("DPUB");
            }

            SendQueued(topic);
            NsqCommandWriter.WriteDpub(_buffer, topic, (long)delay.TotalMilliseconds, body.Span);
            op = PendingOperation.Rent(PendingKind.Publish, topic);
            _pending.Enqueue(op);
        }

        return SubmitPublish(op, timeout, cancellationToken);
    }

    /// <summary>Subscribes this connection to <paramref name="topic"/>/<paramref name="channel"/> (SUB) and waits for nsqd's OK.</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="channel">A valid channel name.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    /// <exception cref="ArgumentException">A name is invalid.</exception>
    /// <exception cref="NsqServerException">nsqd refused (E_INVALID when already subscribed, E_UNAUTHORIZED, ...); the connection is then closed.</exception>
    public ValueTask SubscribeAsync(string topic, string channel, CancellationToken cancellationToken = default)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        NsqNames.ThrowIfInvalidChannel(channel);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        PendingOperation op;
        lock (_writeLock)
        {
            if (!CanSend)
            {
                return NotSent("SUB");
            }

            NsqCommandWriter.WriteSub(_buffer, topic, channel);
            op = PendingOperation.Rent(PendingKind.Subscribe, topic);
            _pending.Enqueue(op);
        }

        return Submit(op, Options.ReadTimeout, cancellationToken);
    }

    /// <summary>
    /// Sends CLS (gnsq <c>close()</c>): nsqd stops sending messages, answers <c>CLOSE_WAIT</c> and still
    /// accepts FIN/REQ/TOUCH for messages in flight. Returns when CLOSE_WAIT arrived. The socket stays open
    /// until <see cref="DisposeAsync"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels waiting for CLOSE_WAIT.</param>
    /// <exception cref="NsqServerException">nsqd refused (E_INVALID when not subscribed); the connection is then closed.</exception>
    public ValueTask SendCloseAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        PendingOperation op;
        lock (_writeLock)
        {
            if (!CanSend)
            {
                return NotSent("CLS");
            }

            NsqCommandWriter.WriteCls(_buffer);
            op = PendingOperation.Rent(PendingKind.Close, null);
            _pending.Enqueue(op);
        }

        return Submit(op, Options.ReadTimeout, cancellationToken);
    }

    /// <summary>
    /// Sends RDY (gnsq <c>ready(count)</c>): nsqd keeps up to <paramref name="count"/> messages in flight on
    /// this connection. Completes once queued for the next write (RDY has no response).
    /// </summary>
    /// <param name="count">0 (pause) up to the server's <see cref="NsqIdentifyResponse.MaxRdyCount"/>.</param>
    /// <param name="cancellationToken">Cancels before queuing.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative or above the server's max RDY count.</exception>
    /// <exception cref="NsqConnectionException">The connection is not open.</exception>
    public ValueTask ReadyAsync(long count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var max = Settings?.MaxRdyCount ?? 2500;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, max);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        lock (_writeLock)
        {
            if (!CanSend)
            {
                return NotSent("RDY");
            }

            NsqCommandWriter.WriteRdy(_buffer, count);
            _lastReady = count;
            _rdyCeiling = Math.Max(_rdyCeiling, count);
        }

        SignalWriter();
        return ValueTask.CompletedTask;
    }

    /// <summary>Sends FIN for <paramref name="messageId"/> (gnsq <c>finish</c>). Completes once queued (FIN has no response; a failure arrives as a non-fatal <see cref="ErrorReceived"/>).</summary>
    /// <param name="messageId">The id of a message delivered on this connection.</param>
    /// <param name="cancellationToken">Cancels before queuing.</param>
    /// <exception cref="NsqConnectionException">The connection is not open.</exception>
    public ValueTask FinishAsync(NsqMessageId messageId, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        lock (_writeLock)
        {
            if (!CanSend)
            {
                return NotSent("FIN");
            }

            NsqCommandWriter.WriteFin(_buffer, messageId);

            // Out of the ledger before the write loop can send it: once nsqd has it, the freed slot may bring a
            // new message at once, and the RDY ceiling check must not count the answered one with it.
            _ledger.Remove(messageId);
        }

        SendAnswer();
        if (Finished is not null)
        {
            RaiseEvent(new NsqFinishedEventArgs(messageId));
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Sends REQ for <paramref name="messageId"/> (gnsq <c>requeue</c>): nsqd redelivers it after <paramref name="delay"/>.</summary>
    /// <param name="messageId">The id of a message delivered on this connection.</param>
    /// <param name="delay">Delay before redelivery; zero for at once.</param>
    /// <param name="backoff">Reported in <see cref="Requeued"/> for readers that back off on failures. Default <see langword="true"/>, as <see cref="NsqMessage.RequeueAsync"/>.</param>
    /// <param name="cancellationToken">Cancels before queuing.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative or above <see cref="NsqdConnectionOptions.MaxReqTimeout"/>.</exception>
    /// <exception cref="NsqConnectionException">The connection is not open.</exception>
    public ValueTask RequeueAsync(NsqMessageId messageId, TimeSpan delay, bool backoff = true, CancellationToken cancellationToken = default)
    {
        PublishValidation.ThrowIfInvalidDelay(delay, Options.MaxReqTimeout, MaxReqTimeoutName, "REQ", nameof(delay));
        return RequeueAsync(messageId, delay, backoff, pause: false, cancellationToken);
    }

    /// <summary>Sends TOUCH for <paramref name="messageId"/> (gnsq <c>touch</c>): nsqd resets its timeout.</summary>
    /// <param name="messageId">The id of a message delivered on this connection.</param>
    /// <param name="cancellationToken">Cancels before queuing.</param>
    /// <exception cref="NsqConnectionException">The connection is not open.</exception>
    public ValueTask TouchAsync(NsqMessageId messageId, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        lock (_writeLock)
        {
            if (!CanSend)
            {
                return NotSent("TOUCH");
            }

            NsqCommandWriter.WriteTouch(_buffer, messageId);
        }

        _ledger.Touch(messageId);
        SignalWriter();
        if (Touched is not null)
        {
            RaiseEvent(new NsqTouchedEventArgs(messageId));
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Sends NOP (gnsq <c>nop()</c>). Heartbeats are answered automatically; this is for applications that want to.</summary>
    /// <param name="cancellationToken">Cancels before queuing.</param>
    /// <exception cref="NsqConnectionException">The connection is not open.</exception>
    public ValueTask NopAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        lock (_writeLock)
        {
            if (!CanSend)
            {
                return NotSent("NOP");
            }

            NsqCommandWriter.WriteNop(_buffer);
        }

        SignalWriter();
        return ValueTask.CompletedTask;
    }

    ValueTask INsqMessageResponder.FinishAsync(NsqMessage message, CancellationToken cancellationToken) =>
        FinishAsync(message.Id, cancellationToken);

    ValueTask INsqMessageResponder.RequeueAsync(NsqMessage message, TimeSpan delay, bool backoff, CancellationToken cancellationToken) =>
        RequeueAsync(message.Id, delay, backoff, cancellationToken);

    ValueTask INsqMessageResponder.TouchAsync(NsqMessage message, CancellationToken cancellationToken) =>
        TouchAsync(message.Id, cancellationToken);

    private ValueTask SubmitPublish(PendingOperation op, TimeSpan timeout, CancellationToken cancellationToken)
    {
        op.Arm(timeout, cancellationToken, _timeouts);
        WriteNowOrSignal();
        return op.AsValueTask();
    }

    private ValueTask Submit(PendingOperation op, TimeSpan timeout, CancellationToken cancellationToken)
    {
        op.Arm(timeout, cancellationToken, _timeouts);
        SignalWriter();
        return op.AsValueTask();
    }

    private ValueTask NotSent(string command)
    {
        var state = Volatile.Read(ref _state);
        var message = state is StateCreated or StateConnecting
            ? $"Cannot send {command}: the connection to nsqd {Address} is not connected yet."
            : $"Cannot send {command}: the connection to nsqd {Address} is closed.";
        return ValueTask.FromException(new NsqNotSentException(message, _closeReason));
    }

    private const string MaxMessageSizeName = "NsqdConnectionOptions.MaxMessageSize";
    private const string MaxReqTimeoutName = "NsqdConnectionOptions.MaxReqTimeout";

    private void ThrowIfInvalidBody(int length, string paramName) =>
        PublishValidation.ThrowIfInvalidBody(length, Options.MaxMessageSize, MaxMessageSizeName, paramName);

    /// <summary>
    /// After a FIN or REQ was queued: the last answer out (nothing else in flight here, so no other answer is
    /// about to join it) is written at once by the caller, which spares the round trip through the write loop
    /// that every message pays at low MaxInFlight; while other messages are in flight, answers gather for the
    /// write loop to send together.
    /// </summary>
    private void SendAnswer()
    {
        if (_ledger.Count == 0)
        {
            WriteNowOrSignal();
        }
        else
        {
            SignalWriter();
        }
    }

    /// <summary>A command was queued for the write loop: wakes it (see <see cref="OnCommandWritten"/> for a parked read).</summary>
    private void SignalWriter()
    {
        OnCommandWritten();
        WakeWriter();
    }

    /// <summary>Wakes the write loop (once until it runs).</summary>
    private void WakeWriter()
    {
        if (Interlocked.Exchange(ref _signaled, 1) == 0)
        {
            _writeSignal.Release();
        }
    }

    /// <summary>
    /// The first step of a deliberate close: refuses new commands, fails the coalesced publishes not yet
    /// written (never sent, so a producer may retry them), and lets the write loop write out what is queued
    /// (FIN, REQ, TOUCH, RDY, commands already in the buffer) within the write timeout. The write loop then ends.
    /// </summary>
    private async Task FlushBeforeCloseAsync()
    {
        Task writeLoop;
        lock (_writeLock)
        {
            if (_state != StateOpen || _draining)
            {
                return;
            }

            _draining = true;
            writeLoop = _writeLoop;
            foreach (var queue in _queues.Values)
            {
                if (queue.Count > 0)
                {
                    queue.FailAll(new NsqNotSentException($"Cannot send PUB: the connection to nsqd {Address} is closing.", null));
                }
            }
        }

        SignalWriter();
        var bound = Options.WriteTimeout == Timeout.InfiniteTimeSpan ? DefaultFlushTimeout : Options.WriteTimeout;
        try
        {
            await writeLoop.WaitAsync(bound).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The server stopped reading: closing the socket ends the write.
        }
    }

    /// <summary>
    /// After a lone PUB was queued: when nothing is being written, the caller writes it itself, saving the
    /// hand-over to the write loop (a thread-pool hop per synchronous publish). A write the socket does not
    /// complete at once is handed to the write loop, which finishes it under the write timeout. When a write
    /// is in progress, the loop is signaled as for any other command and the data goes with the next batch.
    /// </summary>
    private void WriteNowOrSignal()
    {
        OnCommandWritten();
        if (Interlocked.CompareExchange(ref _writerBusy, 1, 0) != 0)
        {
            WakeWriter();
            return;
        }

        ArrayBufferWriter<byte> batch;
        lock (_writeLock)
        {
            if (_state != StateOpen || _buffer.WrittenCount == 0)
            {
                ReleaseWriter();
                return;
            }

            batch = TakeBatch();
        }

        try
        {
            var stream = _writeStream!;
            var write = stream.WriteAsync(batch.WrittenMemory, CancellationToken.None);
            if (write.IsCompletedSuccessfully)
            {
                var flush = stream.FlushAsync(CancellationToken.None);
                if (flush.IsCompletedSuccessfully)
                {
                    RecycleBatch(batch);
                    ReleaseWriter();
                    return;
                }

                Volatile.Write(ref _handoff, new HandOff(flush, batch));
            }
            else
            {
                Volatile.Write(ref _handoff, new HandOff(FinishWriteAsync(write, stream), batch));
            }
        }
        catch (Exception ex)
        {
            // The stream failed, or the connection closed (and disposed it) under the write.
            Interlocked.Exchange(ref _writerBusy, 0);
            Close(Volatile.Read(ref _state) == StateClosed ? null : new NsqConnectionException($"Writing to nsqd {Address} failed: {ex.Message}", ex));
            return;
        }

        // The write loop owns the write from here (the busy flag stays set until it finished).
        Interlocked.Exchange(ref _signaled, 1);
        _writeSignal.Release();
    }

    /// <summary>
    /// After the loops stopped: waits (briefly) for a caller still inside an inline write, so the streams are
    /// not disposed under it, and observes a handed-over write the write loop never took (the socket is closed,
    /// so it has ended or ends now), so no task of the connection goes unobserved.
    /// </summary>
    private async Task WaitForInlineWriterAsync()
    {
        var started = Environment.TickCount64;
        while (Volatile.Read(ref _writerBusy) != 0 && Volatile.Read(ref _handoff) is null && Environment.TickCount64 - started < 1000)
        {
            await Task.Delay(1).ConfigureAwait(false);
        }

        if (Interlocked.Exchange(ref _handoff, null) is { } handoff)
        {
            try
            {
                await handoff.Write.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or TimeoutException or OperationCanceledException or InvalidOperationException)
            {
                // The socket is closed: a write cut short by that is the expected consequence.
            }
        }
    }

    private sealed record HandOff(Task Write, ArrayBufferWriter<byte> Batch);

    private static async Task FinishWriteAsync(ValueTask write, Stream stream)
    {
        await write.ConfigureAwait(false);
        await stream.FlushAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Under the write lock, by the writer: the buffer to write now; commands queued from here on go to the other one.</summary>
    private ArrayBufferWriter<byte> TakeBatch()
    {
        var batch = _buffer;
        _buffer = _spare;
        _spare = batch;
        return batch;
    }

    private void RecycleBatch(ArrayBufferWriter<byte> batch)
    {
        if (batch.Capacity > RetainedBufferCapacity)
        {
            lock (_writeLock)
            {
                _spare = new ArrayBufferWriter<byte>(16 * 1024);
            }
        }
        else
        {
            batch.ResetWrittenCount();
        }
    }

    /// <summary>Gives up the right to write; when commands arrived meanwhile, the write loop takes them.</summary>
    private void ReleaseWriter()
    {
        Interlocked.Exchange(ref _writerBusy, 0);
        bool more;
        lock (_writeLock)
        {
            more = _buffer.WrittenCount > 0;
        }

        if (more || Volatile.Read(ref _draining))
        {
            WakeWriter();
        }
    }

    private async Task WriteLoopAsync()
    {
        Exception? error = null;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
        var stream = _writeStream!;
        try
        {
            while (true)
            {
                if (!Volatile.Read(ref _draining) || Volatile.Read(ref _writerBusy) != 0)
                {
                    await _writeSignal.WaitAsync(_lifetime.Token).ConfigureAwait(false);
                }

                Volatile.Write(ref _signaled, 0);
                if (Interlocked.Exchange(ref _handoff, null) is { } handoff)
                {
                    // A caller's write that did not complete at once: finish it, then write on as usual.
                    try
                    {
                        await (Options.WriteTimeout == Timeout.InfiniteTimeSpan ? handoff.Write : handoff.Write.WaitAsync(Options.WriteTimeout, _lifetime.Token)).ConfigureAwait(false);
                    }
                    catch (TimeoutException ex)
                    {
                        throw new OperationCanceledException("The write timed out.", ex);
                    }

                    RecycleBatch(handoff.Batch);
                    Interlocked.Exchange(ref _writerBusy, 0);
                }

                if (Interlocked.CompareExchange(ref _writerBusy, 1, 0) != 0)
                {
                    // A caller is writing; it signals when it is done and more is queued.
                    continue;
                }

                ArrayBufferWriter<byte> batch;
                lock (_writeLock)
                {
                    if (_buffer.WrittenCount == 0)
                    {
                        Interlocked.Exchange(ref _writerBusy, 0);
                        if (_draining)
                        {
                            // Everything queued before the close is written: the socket may close now.
                            break;
                        }

                        continue;
                    }

                    batch = TakeBatch();
                }

                if (Options.WriteTimeout != Timeout.InfiniteTimeSpan)
                {
                    deadline.CancelAfter(Options.WriteTimeout);
                }

                await stream.WriteAsync(batch.WrittenMemory, deadline.Token).ConfigureAwait(false);
                await stream.FlushAsync(deadline.Token).ConfigureAwait(false);
                deadline.CancelAfter(Timeout.InfiniteTimeSpan);
                RecycleBatch(batch);

                // Whoever queued something meanwhile signaled: the next round takes it.
                Interlocked.Exchange(ref _writerBusy, 0);
            }
        }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException ex)
        {
            error = new NsqConnectionException($"Writing to nsqd {Address} did not complete within {Options.WriteTimeout.TotalMilliseconds:0} ms.", ex);
        }
        catch (Exception ex) when (Volatile.Read(ref _state) != StateClosed)
        {
            error = new NsqConnectionException($"Writing to nsqd {Address} failed: {ex.Message}", ex);
        }
        catch (Exception)
        {
            // Closed deliberately while writing: the failure is the expected consequence.
        }

        Close(error);
    }
}
