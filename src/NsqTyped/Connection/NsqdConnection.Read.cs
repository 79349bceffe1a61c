using System.Buffers;
using System.IO.Pipelines;
using NsqTyped.Internal;
using NsqTyped.Protocol;

namespace NsqTyped;

public sealed partial class NsqdConnection
{
    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_readStream!, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true));
        Exception? error = null;
        try
        {
            while (Volatile.Read(ref _state) == StateOpen)
            {
                var result = await reader.ReadAsync(_lifetime.Token).ConfigureAwait(false);
                Volatile.Write(ref _lastReceived, Environment.TickCount64);
                var buffer = result.Buffer;
                while (NsqFrameReader.TryReadFrame(ref buffer, out var frame, _maxFrameSize))
                {
                    HandleFrame(frame);
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
            await reader.CompleteAsync().ConfigureAwait(false);
        }

        Close(error);
    }

    private void HandleFrame(in NsqFrame frame)
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
                    return;
                }

                CompletePending(frame);

                if (ResponseReceived is not null)
                {
                    RaiseEvent(new NsqResponseEventArgs(frame.Data.ToArray()));
                }

                return;

            case NsqFrameType.Error:
                var error = frame.ToServerException();
                Log.ServerError(_logger, Address, error.CodeText, error.Description);
                RaiseEvent(new NsqErrorEventArgs(error));
                if (!error.IsFatal)
                {
                    // FIN/REQ/TOUCH failures answer no pending command: they must not shift the publish FIFO.
                    return;
                }

                FailPending(error);

                Close(new NsqConnectionException($"nsqd {Address} sent the fatal error {error.Message}; the connection is closed.", error));
                return;

            default:
                var message = frame.AsMessage();
                Interlocked.Increment(ref _inFlight);
                if (MessageReceived is null)
                {
                    Log.MessageWithoutHandler(_logger, Address);
                    return;
                }

                // The one copy out of the receive buffer: the message outlives the buffer segment.
                var body = message.Body.ToArray();
                RaiseEvent(new NsqMessageEventArgs(new NsqMessage(message.Id, message.Attempts, message.TimestampNanoseconds, body, this)));
                return;
        }
    }
}
