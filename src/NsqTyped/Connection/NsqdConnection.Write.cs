using System.Buffers;
using System.Runtime.InteropServices;
using NsqTyped.Diagnostics;
using NsqTyped.Internal;
using NsqTyped.Protocol;

namespace NsqTyped;

public sealed partial class NsqdConnection
{
    // A batch buffer that grew this large for one big MPUB is dropped rather than kept for the connection's lifetime.
    private const int RetainedBufferCapacity = 1024 * 1024;

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
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    public ValueTask PublishDeferredAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, CancellationToken cancellationToken = default) =>
        NsqTelemetry.PublishObserved
            ? NsqTelemetry.ObservePublishAsync(PublishDeferredAsync(topic, body, delay, Options.ReadTimeout, cancellationToken), topic, 1, "DPUB")
            : PublishDeferredAsync(topic, body, delay, Options.ReadTimeout, cancellationToken);

    internal ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan timeout, CancellationToken cancellationToken)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        ThrowIfInvalidBody(body.Length, nameof(body));
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        PendingOperation op;
        lock (_writeLock)
        {
            if (_state != StateOpen)
            {
                return NotSent("PUB");
            }

            NsqCommandWriter.WritePub(_buffer, topic, body.Span);
            op = PendingOperation.Rent(PendingKind.Publish, topic);
            _pending.Enqueue(op);
        }

        return Submit(op, timeout, cancellationToken);
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
            if (_state != StateOpen)
            {
                return NotSent("MPUB");
            }

            NsqCommandWriter.WriteMpub(_buffer, topic, span);
            op = PendingOperation.Rent(PendingKind.Publish, topic);
            _pending.Enqueue(op);
        }

        return Submit(op, timeout, cancellationToken);
    }

    internal ValueTask PublishDeferredAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, TimeSpan timeout, CancellationToken cancellationToken)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        ThrowIfInvalidBody(body.Length, nameof(body));
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        PendingOperation op;
        lock (_writeLock)
        {
            if (_state != StateOpen)
            {
                return NotSent("DPUB");
            }

            NsqCommandWriter.WriteDpub(_buffer, topic, (long)delay.TotalMilliseconds, body.Span);
            op = PendingOperation.Rent(PendingKind.Publish, topic);
            _pending.Enqueue(op);
        }

        return Submit(op, timeout, cancellationToken);
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
            if (_state != StateOpen)
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
            if (_state != StateOpen)
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
            if (_state != StateOpen)
            {
                return NotSent("RDY");
            }

            NsqCommandWriter.WriteRdy(_buffer, count);
            _lastReady = count;
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
            if (_state != StateOpen)
            {
                return NotSent("FIN");
            }

            NsqCommandWriter.WriteFin(_buffer, messageId);
        }

        DecrementInFlight();
        SignalWriter();
        if (Finished is not null)
        {
            RaiseEvent(new NsqFinishedEventArgs(messageId));
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Sends REQ for <paramref name="messageId"/> (gnsq <c>requeue</c>): nsqd redelivers it after <paramref name="delay"/> (clamped by nsqd to its max-req-timeout).</summary>
    /// <param name="messageId">The id of a message delivered on this connection.</param>
    /// <param name="delay">Delay before redelivery; zero for at once.</param>
    /// <param name="backoff">Reported in <see cref="Requeued"/> for readers that back off on failures. Default <see langword="true"/>, as <see cref="NsqMessage.RequeueAsync"/>.</param>
    /// <param name="cancellationToken">Cancels before queuing.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    /// <exception cref="NsqConnectionException">The connection is not open.</exception>
    public ValueTask RequeueAsync(NsqMessageId messageId, TimeSpan delay, bool backoff = true, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        lock (_writeLock)
        {
            if (_state != StateOpen)
            {
                return NotSent("REQ");
            }

            NsqCommandWriter.WriteReq(_buffer, messageId, (long)delay.TotalMilliseconds);
        }

        DecrementInFlight();
        SignalWriter();
        if (Requeued is not null)
        {
            RaiseEvent(new NsqRequeuedEventArgs(messageId, delay, backoff));
        }

        return ValueTask.CompletedTask;
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
            if (_state != StateOpen)
            {
                return NotSent("TOUCH");
            }

            NsqCommandWriter.WriteTouch(_buffer, messageId);
        }

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
            if (_state != StateOpen)
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

    private ValueTask Submit(PendingOperation op, TimeSpan timeout, CancellationToken cancellationToken)
    {
        op.Arm(timeout, cancellationToken);
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

    private void ThrowIfInvalidBody(int length, string paramName) =>
        PublishValidation.ThrowIfInvalidBody(length, Options.MaxMessageSize, MaxMessageSizeName, paramName);

    private void DecrementInFlight()
    {
        int current;
        do
        {
            current = Volatile.Read(ref _inFlight);
            if (current == 0)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _inFlight, current - 1, current) != current);
    }

    private void SignalWriter()
    {
        if (Interlocked.Exchange(ref _signaled, 1) == 0)
        {
            _writeSignal.Release();
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
                await _writeSignal.WaitAsync(_lifetime.Token).ConfigureAwait(false);
                Volatile.Write(ref _signaled, 0);
                ArrayBufferWriter<byte> batch;
                lock (_writeLock)
                {
                    if (_buffer.WrittenCount == 0)
                    {
                        continue;
                    }

                    batch = _buffer;
                    _buffer = _spare;
                    _spare = batch;
                }

                if (Options.WriteTimeout != Timeout.InfiniteTimeSpan)
                {
                    deadline.CancelAfter(Options.WriteTimeout);
                }

                await stream.WriteAsync(batch.WrittenMemory, deadline.Token).ConfigureAwait(false);
                await stream.FlushAsync(deadline.Token).ConfigureAwait(false);
                deadline.CancelAfter(Timeout.InfiniteTimeSpan);

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
