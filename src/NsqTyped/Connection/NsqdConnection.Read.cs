using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using NsqTyped.Internal;
using NsqTyped.Protocol;

namespace NsqTyped;

public sealed partial class NsqdConnection
{
    // A message the sink claimed to run on the read loop's thread (OnMessageFrame): it runs once the loop's next
    // read is registered (DeferringRead), or on the thread pool when that read completes at once.
    private NsqMessage? _inlinePending;

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_readStream!, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true));
        if (Settings is { MsgTimeout: > 0 } settings)
        {
            _ledger.Timeout = TimeSpan.FromMilliseconds(settings.MsgTimeout);
        }

        Exception? error = null;
        try
        {
            while (Volatile.Read(ref _state) == StateOpen)
            {
                var result = await new DeferringRead(this, reader.ReadAsync(_lifetime.Token));
                Volatile.Write(ref _lastReceived, Environment.TickCount64);
                var buffer = result.Buffer;
                while (true)
                {
                    if (_skipRemaining > 0 && !SkipBody(ref buffer))
                    {
                        break;
                    }

                    NsqMessage? waiting;
                    if (IsTooLargeMessage(buffer) is { } tooLarge)
                    {
                        if (tooLarge < 0)
                        {
                            break;
                        }

                        waiting = OnTooLargeMessage(ref buffer, tooLarge);
                    }
                    else if (NsqFrameReader.TryReadFrame(ref buffer, out var frame, _maxFrameSize))
                    {
                        waiting = HandleFrame(frame, last: buffer.IsEmpty);
                    }
                    else
                    {
                        break;
                    }

                    if (waiting is not null)
                    {
                        CompleteDeferred();
                        // The consumer's bounded queue is full: wait for room (the frames behind stay in the pipe).
                        await _sink!.DeliverAsync(waiting, _lifetime.Token).ConfigureAwait(false);
                    }
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    error = buffer.IsEmpty
                        ? new NsqConnectionException($"nsqd {Address} closed the connection.")
                        : new NsqProtocolException($"nsqd {Address} closed the connection in the middle of a frame ({buffer.Length} bytes pending).");
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
        {
        }
        catch (NsqProtocolException ex)
        {
            error = ex;
        }
        catch (Exception ex) when (Volatile.Read(ref _state) != StateClosed)
        {
            error = new NsqConnectionException($"Reading from nsqd {Address} failed: {ex.Message}", ex);
        }
        catch (Exception)
        {
            // The connection was closed deliberately; the failed read is the expected consequence.
        }
        finally
        {
            CompleteDeferred();
            await reader.CompleteAsync().ConfigureAwait(false);
        }

        Close(error);
    }

    /// <summary>Bytes of a too-large message body still to be read past (read loop only).</summary>
    private long _skipRemaining;

    /// <summary>
    /// Whether <paramref name="buffer"/> starts with a message frame above <see cref="NsqdConnectionOptions.MaxReadMessageSize"/>:
    /// <see langword="null"/> when it does not (or it is too early to tell from the size field alone), the frame's size
    /// once its message header has arrived, -1 while that header is still on its way. Any other frame above the limit
    /// is left to <see cref="NsqFrameReader.TryReadFrame"/>, which refuses it.
    /// </summary>
    private int? IsTooLargeMessage(in ReadOnlySequence<byte> buffer)
    {
        const int headerLength = NsqFrameReader.SizeFieldLength + 4;
        if (buffer.Length < headerLength)
        {
            return null;
        }

        Span<byte> header = stackalloc byte[headerLength];
        buffer.Slice(0, headerLength).CopyTo(header);
        var size = BinaryPrimitives.ReadInt32BigEndian(header);
        if (size <= _maxFrameSize || BinaryPrimitives.ReadInt32BigEndian(header[4..]) != (int)NsqFrameType.Message)
        {
            return null;
        }

        return buffer.Length < headerLength + NsqMessageFrame.HeaderLength ? -1 : size;
    }

    /// <summary>
    /// Takes the header of a message above the read limit and arranges to read past its body without holding it: the
    /// message is in flight like any other (ledger, RDY ceiling), and goes to the sink as a body-less message the Reader
    /// gives up; without a sink the connection finishes it. Returns the message when the sink's queue is full.
    /// </summary>
    private NsqMessage? OnTooLargeMessage(ref ReadOnlySequence<byte> buffer, int frameSize)
    {
        const int headerLength = NsqFrameReader.SizeFieldLength + 4;
        var view = NsqMessageFrame.Parse(buffer.Slice(headerLength, NsqMessageFrame.HeaderLength));
        buffer = buffer.Slice(headerLength + NsqMessageFrame.HeaderLength);
        var bodySize = frameSize - 4 - NsqMessageFrame.HeaderLength;
        _skipRemaining = bodySize;
        var limit = Options.MaxReadMessageSize;
        Log.MessageTooLarge(_logger, Address, view.Id.ToString(), bodySize, limit);
        TrackInFlight(view.Id);

        var sink = _sink;
        if (sink is not null)
        {
            var message = new NsqMessage(view.Id, view.Attempts, view.TimestampNanoseconds, ReadOnlyMemory<byte>.Empty, sink.Responder)
            {
                TooLargeBodySize = bodySize,
            };
            return sink.TryDeliver(message) ? null : message;
        }

        // A bare connection has nobody to give it up: finish it, or it comes back on every delivery.
        var fin = FinishAsync(view.Id);
        if (!fin.IsCompletedSuccessfully)
        {
            // Closed meanwhile: nsqd redelivers it to the next connection, which reads past it the same way.
            _ = fin.AsTask().Exception;
        }

        return null;
    }

    /// <summary>Reads past what is left of a too-large body; false when the buffer ran out before its end.</summary>
    private bool SkipBody(ref ReadOnlySequence<byte> buffer)
    {
        var take = Math.Min(_skipRemaining, buffer.Length);
        buffer = buffer.Slice(take);
        _skipRemaining -= take;
        return _skipRemaining == 0;
    }

    /// <summary>
    /// Handles one frame; returns a message only when it still has to be handed to the sink (its queue was full).
    /// <paramref name="last"/>: nothing follows the frame in this read, so a message may be run inline after it.
    /// </summary>
    private NsqMessage? HandleFrame(in NsqFrame frame, bool last)
    {
        switch (frame.Type)
        {
            case NsqFrameType.Response:
                if (frame.IsHeartbeat)
                {
                    lock (_writeLock)
                    {
                        if (_state == StateOpen)
                        {
                            NsqCommandWriter.WriteNop(_buffer);
                        }
                    }

                    SignalWriter();
                    Log.HeartbeatAnswered(_logger, Address);
                    return null;
                }

                CompletePending(frame);

                if (ResponseReceived is not null)
                {
                    RaiseEvent(new NsqResponseEventArgs(frame.Data.ToArray()));
                }

                return null;

            case NsqFrameType.Error:
                var error = frame.ToServerException();
                Log.ServerError(_logger, Address, error.CodeText, error.Description);
                if (ErrorReceived is not null)
                {
                    RaiseEvent(new NsqErrorEventArgs(error));
                }

                if (!error.IsFatal)
                {
                    // FIN/REQ/TOUCH failures answer no pending command: they must not shift the publish FIFO.
                    return null;
                }

                FailPending(error);

                Close(new NsqConnectionException($"nsqd {Address} sent the fatal error {error.Message}; the connection is closed.", error));
                return null;

            default:
                return OnMessageFrame(frame, last);
        }
    }
}
