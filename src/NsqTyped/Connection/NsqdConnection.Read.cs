using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using NsqTyped.Internal;
using NsqTyped.Protocol;

namespace NsqTyped;

public sealed partial class NsqdConnection
{
    // A message the sink claimed to run on the read loop's thread (OnMessageFrame): it runs once the loop's next
    // read is registered (NextRead), or on the thread pool when that read completes at once.
    private NsqMessage? _inlinePending;

    // The read loop's reader and its current read (NextRead).
    private PipeReader? _pipeReader;
    private ConfiguredValueTaskAwaitable<ReadResult>.ConfiguredValueTaskAwaiter _read;
    private bool _readIssued;

    // A parked read (AwaitRead): while an answered publish's caller runs on the read loop's thread before the next read is
    // issued, the run's number (else 0), the read loop's continuation, and the runs so far (read loop only writes).
    private long _parkedRun;
    private Action? _parkedContinuation;
    private long _parkRuns;

    // Commands the caller code in front of a parked read wrote (that thread only).
    private int _parkedCommands;

    // The watch that releases a parked read whose caller does not come back (CheckParkedRead).
    private Timer? _parkWatch;
    private int _parkWatchArmed;
    private long _parkWatchSeenRun;
    private long _parkWatchSeenRuns;

    // The connection whose parked read this thread's caller code runs in front of.
    [ThreadStatic]
    private static NsqdConnection? t_parkedBy;

    // A read loop continuation to run once the one running on this thread returns (RunOnThisThread).
    [ThreadStatic]
    private static Action? t_nextContinuation;

    [ThreadStatic]
    private static bool t_runningContinuations;

    /// <summary>
    /// How long a parked read waits for the caller running in front of it before another thread issues it (checked
    /// once per period, so a read waits one to two periods). Tests change it.
    /// </summary>
    internal TimeSpan ParkWatchPeriod { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Reads parked in front of an answered caller so far (tests).</summary>
    internal long ParkedReads => Volatile.Read(ref _parkRuns);

    /// <summary>Whether the calling code runs in front of this connection's parked read (tests).</summary>
    internal bool IsParkedBehindCurrentThread => t_parkedBy == this && Volatile.Read(ref _parkedRun) != 0;

    private async Task ReadLoopAsync()
    {
        // Off the caller's thread at once. Not started through Task.Run: caller code may run in front of a parked read
        // on the loop's first thread, and Task.Run's task would complete only once that first frame returns, not
        // when the loop ends on another thread (a dispose from that caller code would wait for itself).
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        var reader = PipeReader.Create(_readStream!, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true));
        _pipeReader = reader;
        if (Settings is { MsgTimeout: > 0 } settings)
        {
            _ledger.Timeout = TimeSpan.FromMilliseconds(settings.MsgTimeout);
        }

        Exception? error = null;
        try
        {
            while (Volatile.Read(ref _state) == StateOpen)
            {
                var result = await new NextRead(this);
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

    /// <summary>
    /// The read loop's next read. Usually issued at once, and when it has to wait for data, the caller of the answered
    /// command kept back by <see cref="Defer"/>, or the handler of the message the sink claimed
    /// (<see cref="INsqMessageSink.TryClaimInline"/>), runs on this thread <b>after</b> the read loop's continuation is
    /// registered with the read, so the read loop never depends on that code. On a connection with nothing else to
    /// read for (no other unanswered command; no subscription, or one that has its only message in flight) that code
    /// runs <b>before</b> the read is issued instead (<see cref="AwaitRead"/>): the next PUB (or the handler's FIN) is
    /// then on the wire when the read starts, and when nsqd has already answered, the read completes at once and the
    /// read loop goes on on this thread, with no thread woken for it: the round trip of a synchronous publisher, or
    /// of a Reader at MaxInFlight 1.
    /// </summary>
    private readonly struct NextRead(NsqdConnection connection) : ICriticalNotifyCompletion
    {
        public bool IsCompleted => connection.BeginRead();

        public NextRead GetAwaiter() => this;

        public ReadResult GetResult() => connection._read.GetResult();

        // Only the read loop awaits this, through UnsafeOnCompleted; it flows no execution context of its own.
        public void OnCompleted(Action continuation) => connection.AwaitRead(continuation);

        public void UnsafeOnCompleted(Action continuation) => connection.AwaitRead(continuation);
    }

    /// <summary>Read loop: issues the next read, unless a kept-back caller runs first (<see cref="AwaitRead"/>); true when the read completed at once.</summary>
    private bool BeginRead()
    {
        // Parked only on a connection with nothing else to read for: no unanswered command, and either a publish's
        // caller on a connection without a subscription, or the message of a subscription that allows one in flight
        // (nsqd sends the next one after its FIN, which its handler writes while it runs).
        if ((_inlinePending is not null ? _deferred is null : _deferred is not null && _sink is null) && _pending.IsEmpty)
        {
            _readIssued = false;
            return false;
        }

        _readIssued = true;
        _read = _pipeReader!.ReadAsync(_lifetime.Token).ConfigureAwait(false).GetAwaiter();
        if (!_read.IsCompleted)
        {
            return false;
        }

        CompleteDeferred();
        return true;
    }

    /// <summary>
    /// Read loop, suspending: either registers <paramref name="continuation"/> with the issued read and then runs what
    /// <see cref="BeginRead"/> kept back, or parks the read: runs the kept-back caller first and issues the read when
    /// the caller's code returns. Caller code that does not return soon (it blocks, or works on) cannot hold the
    /// connection: another thread's command, or its own second one, issues the parked read (<see cref="OnCommandWritten"/>),
    /// as do a close and a watch that sees the same caller still running one to two <see cref="ParkWatchPeriod"/>s later.
    /// </summary>
    private void AwaitRead(Action continuation)
    {
        var deferred = TakeDeferred();
        if (_readIssued)
        {
            var message = TakeInlinePending();
            _read.UnsafeOnCompleted(continuation);

            // The read loop may already run on another thread: only what was taken is touched here.
            if (deferred is not null)
            {
                if (message is not null)
                {
                    // Two pieces of user code: the message's handler must not wait behind the caller's continuation.
                    Dispatch(message);
                }

                deferred.SetClaimedResultInline();
                deferred.ReleaseFromQueue();
            }
            else if (message is not null)
            {
                _sink!.RunInline(message);
            }

            return;
        }

        var parkedMessage = TakeInlinePending();
        _parkedContinuation = continuation;
        _parkedCommands = 0;
        var run = _parkRuns + 1;
        Volatile.Write(ref _parkRuns, run);
        Interlocked.Exchange(ref _parkedRun, run);
        WatchParkedRead();
        var outer = t_parkedBy;
        t_parkedBy = this;
        try
        {
            if (parkedMessage is not null)
            {
                _sink!.RunInline(parkedMessage);
            }
            else
            {
                deferred!.SetClaimedResultInline();
                deferred.ReleaseFromQueue();
            }
        }
        finally
        {
            t_parkedBy = outer;
            if (Interlocked.CompareExchange(ref _parkedRun, 0, run) == run)
            {
                ResumeRead(continuation, onReadLoopThread: true);
            }
        }
    }

    /// <summary>Issues the parked read, and resumes the read loop when it completes: here when it completed at once and this is the read loop's thread, else on the thread pool.</summary>
    private void ResumeRead(Action continuation, bool onReadLoopThread)
    {
        try
        {
            _read = _pipeReader!.ReadAsync(_lifetime.Token).ConfigureAwait(false).GetAwaiter();
        }
        catch (Exception ex)
        {
            // Closed meanwhile (ObjectDisposedException, or a completed reader): the read loop sees it as the read's failure.
            _read = ValueTask.FromException<ReadResult>(ex).ConfigureAwait(false).GetAwaiter();
        }

        if (!_read.IsCompleted)
        {
            _read.UnsafeOnCompleted(continuation);
        }
        else if (onReadLoopThread)
        {
            RunOnThisThread(continuation);
        }
        else
        {
            RunOnThreadPool(continuation);
        }
    }

    /// <summary>
    /// Runs a read loop continuation on this thread. A read loop that resumes here again before the first one
    /// returns is run by the first one after it returns (or, for a second loop, on the thread pool), so the stack
    /// does not grow with every read that completes at once.
    /// </summary>
    private static void RunOnThisThread(Action continuation)
    {
        if (t_runningContinuations)
        {
            if (t_nextContinuation is null)
            {
                t_nextContinuation = continuation;
            }
            else
            {
                RunOnThreadPool(continuation);
            }

            return;
        }

        t_runningContinuations = true;
        try
        {
            for (Action? next = continuation; next is not null;)
            {
                next();
                next = t_nextContinuation;
                t_nextContinuation = null;
            }
        }
        finally
        {
            t_runningContinuations = false;
            if (t_nextContinuation is { } left)
            {
                t_nextContinuation = null;
                RunOnThreadPool(left);
            }
        }
    }

    private static void RunOnThreadPool(Action continuation) =>
        ThreadPool.UnsafeQueueUserWorkItem(static run => run(), continuation, preferLocal: false);

    /// <summary>
    /// A command is being written (called once per command): a parked read is issued now when another thread writes,
    /// so the answer never waits for caller code, and when the caller code in front of it writes its second command,
    /// so a caller that pipelines has its answers read while it goes on. One command and a return (a synchronous
    /// publisher, a handler's FIN) keeps the read parked.
    /// </summary>
    private void OnCommandWritten()
    {
        if (Volatile.Read(ref _parkedRun) != 0 && (t_parkedBy != this || ++_parkedCommands > 1))
        {
            ReleaseParkedRead();
        }
    }

    /// <summary>Issues a parked read from this thread, unless the caller code in front of it returned (and issued it) first.</summary>
    private void ReleaseParkedRead()
    {
        if (TryUnpark())
        {
            ResumeRead(_parkedContinuation!, onReadLoopThread: false);
        }
    }

    /// <summary>Takes a parked read over from the caller code in front of it, unless that code returned (and issued the read) first.</summary>
    private bool TryUnpark()
    {
        var run = Volatile.Read(ref _parkedRun);
        return run != 0 && Interlocked.CompareExchange(ref _parkedRun, 0, run) == run;
    }

    /// <summary>Read loop: makes sure the watch runs while reads are parked.</summary>
    private void WatchParkedRead()
    {
        if (Volatile.Read(ref _parkWatchArmed) != 0 || Interlocked.Exchange(ref _parkWatchArmed, 1) != 0)
        {
            return;
        }

        _parkWatch ??= new Timer(static state => ((NsqdConnection)state!).CheckParkedRead(), this, Timeout.Infinite, Timeout.Infinite);
        _parkWatch.Change(ParkWatchPeriod, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// The watch: a read parked in front of the same caller code as one period ago is issued from here. The watch
    /// runs again while reads are parked, and stops once a period went by without any.
    /// </summary>
    private void CheckParkedRead()
    {
        var run = Volatile.Read(ref _parkedRun);
        if (run != 0 && run == _parkWatchSeenRun && TryUnpark())
        {
            Log.ParkedReadReleased(_logger, Address, (long)ParkWatchPeriod.TotalMilliseconds);
            ResumeRead(_parkedContinuation!, onReadLoopThread: false);
        }

        _parkWatchSeenRun = run;
        var runs = Volatile.Read(ref _parkRuns);
        var active = run != 0 || runs != _parkWatchSeenRuns;
        _parkWatchSeenRuns = runs;
        if (active && Volatile.Read(ref _state) == StateOpen)
        {
            try
            {
                _parkWatch!.Change(ParkWatchPeriod, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // Closed and disposed since the state was read: nothing is parked any more.
            }

            return;
        }

        Volatile.Write(ref _parkWatchArmed, 0);
        if (Volatile.Read(ref _parkedRun) != 0)
        {
            // A read parked after the check above and found the watch still armed.
            WatchParkedRead();
        }
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
