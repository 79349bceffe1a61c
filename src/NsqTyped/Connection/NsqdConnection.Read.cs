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
        if (Settings is { MsgTimeout: > 0 } settings)
        {
            _ledger.Timeout = TimeSpan.FromMilliseconds(settings.MsgTimeout);
        }

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
                    if (HandleFrame(frame) is { } waiting)
                    {
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
            await reader.CompleteAsync().ConfigureAwait(false);
        }

        Close(error);
    }

    /// <summary>Handles one frame; returns a message only when it still has to be handed to the sink (its queue was full).</summary>
    private NsqMessage? HandleFrame(in NsqFrame frame)
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
                return OnMessageFrame(frame);
        }
    }
}
