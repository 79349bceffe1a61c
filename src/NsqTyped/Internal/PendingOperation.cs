using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Tasks.Sources;
using NsqTyped.Protocol;

namespace NsqTyped.Internal;

/// <summary>What a queued command expects back, so responses are matched to the right command.</summary>
internal enum PendingKind
{
    Publish,
    Subscribe,
    Close,
}

/// <summary>
/// One slot of a connection's FIFO of commands awaiting a response. Pooled and awaited as a
/// <see cref="ValueTask"/>. It can be completed by the response, the per-call timeout, the caller's
/// token or the connection's death, whichever comes first; the slot stays in the FIFO until its
/// response arrives (or the connection dies) so later acknowledgements stay aligned.
/// </summary>
/// <remarks>
/// A coalesced publish waits in its topic's <see cref="PublishQueue"/> first. When the queue goes out as one
/// PUB or MPUB, its live operations are chained through <see cref="NextInBatch"/> and only the first one
/// enters the FIFO: the command's one response completes the whole chain.
/// </remarks>
internal sealed class PendingOperation : IValueTaskSource
{
    private const int MaxPooled = 4096;
    private static readonly ConcurrentQueue<PendingOperation> s_pool = new();
    private static int s_pooledCount;

    // A few released operations per thread, rented again by the same thread without touching the shared pool:
    // a caller that awaits a publish and publishes again (the usual loop) reuses the operation it just released,
    // still in its CPU's cache, instead of one another CPU last touched.
    private const int ThreadCacheSize = 32;

    [ThreadStatic]
    private static PendingOperation?[]? t_cache;

    [ThreadStatic]
    private static int t_cached;

    private static readonly Action<object?, CancellationToken> s_onCanceled = static (state, token) =>
        ((PendingOperation)state!).TrySetException(new OperationCanceledException("The operation was canceled.", token));

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private TimeoutBuckets? _timeouts;
    private TimeoutBucket? _bucket;
    private CancellationTokenRegistration _cancelRegistration;
    private TimeSpan _timeout;
    private string? _topic;
    private int _completed;

    // Two owners: the connection's FIFO and the awaiter. The slot returns to the pool when both let go.
    private int _owners;

    public PendingKind Kind { get; private set; }

    /// <summary>The next operation of the same command (a coalesced MPUB); <see langword="null"/> for the last one.</summary>
    public PendingOperation? NextInBatch { get; set; }

    /// <summary>The topic queue whose command this is, told when the response arrives; <see langword="null"/> when not coalesced.</summary>
    public PublishQueue? Queue { get; set; }

    /// <summary>Where the body of a coalesced publish starts in its queue's staging buffer (its size prefix).</summary>
    public int StagedOffset { get; set; }

    /// <summary>The body length of a coalesced publish.</summary>
    public int StagedLength { get; set; }

    /// <summary>The producer whose outstanding-publish room this publish holds, given back when it completes; <see langword="null"/> otherwise.</summary>
    public IPublishOwner? Owner { get; set; }

    /// <summary>The message bytes the publish holds of its owner's room.</summary>
    public int OwnerBytes { get; set; }

    /// <summary>The caller's <c>publish</c> span, tagged with the batch size when the batch goes out; usually <see langword="null"/>.</summary>
    public Activity? Activity { get; set; }

    /// <summary>The timeout slot the operation is linked into while its timeout runs; only changed under that slot's lock.</summary>
    public TimeoutBucket? Bucket
    {
        get => _bucket;
        set => Volatile.Write(ref _bucket, value);
    }

    /// <summary>Whether the operation is linked into a timeout slot; read without the lock (see <see cref="TimeoutBuckets.Leave"/>).</summary>
    public bool IsInBucket => Volatile.Read(ref _bucket) is not null;

    /// <summary>Whether <see cref="TryClaim"/> succeeded for this operation while its batch is being completed.</summary>
    public bool Claimed { get; set; }

    /// <summary>The neighbours in <see cref="Bucket"/>'s list.</summary>
    public PendingOperation? BucketNext { get; set; }

    /// <inheritdoc cref="BucketNext"/>
    public PendingOperation? BucketPrevious { get; set; }

    /// <summary>Whether the operation completed (answered, timed out, canceled or failed).</summary>
    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    /// <summary>
    /// Whether <paramref name="response"/> is what this command expects: <c>OK</c> for PUB, MPUB, DPUB and
    /// SUB, <c>CLOSE_WAIT</c> for CLS. Anything else means the stream is out of step with the FIFO.
    /// </summary>
    public bool Expects(in NsqFrame response) => Kind == PendingKind.Close ? response.IsCloseWait : response.IsOk;

    /// <summary>The name of the command, for messages.</summary>
    public string CommandName => Kind switch
    {
        PendingKind.Publish => "a publish",
        PendingKind.Subscribe => "SUB",
        _ => "CLS",
    };

    public short Version => _core.Version;

    public static PendingOperation Rent(PendingKind kind, string? topic)
    {
        PendingOperation? op;
        var cache = t_cache;
        if (cache is not null && t_cached > 0)
        {
            op = cache[--t_cached]!;
            cache[t_cached] = null;
        }
        else if (s_pool.TryDequeue(out op))
        {
            Interlocked.Decrement(ref s_pooledCount);
        }
        else
        {
            op = new PendingOperation();
        }

        op._core.RunContinuationsAsynchronously = true;
        op.Kind = kind;
        op._topic = topic;
        op._completed = 0;
        op._owners = 2;
        return op;
    }

    /// <summary>Starts the timeout and observes <paramref name="cancellationToken"/>; call once the command is queued.</summary>
    public void Arm(TimeSpan timeout, CancellationToken cancellationToken, TimeoutBuckets timeouts)
    {
        StartTimeout(timeout, timeouts);
        Observe(cancellationToken);
    }

    /// <summary>Starts the timeout; the connection calls it while it holds its write lock (the buckets' lock), which makes it cheap.</summary>
    public void StartTimeout(TimeSpan timeout, TimeoutBuckets timeouts)
    {
        _timeout = timeout;
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            _timeouts = timeouts;
            timeouts.Enter(timeout, this);
        }
    }

    /// <summary>Completes the operation with <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires; call outside any lock.</summary>
    public void Observe(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancelRegistration = cancellationToken.UnsafeRegister(s_onCanceled, this);
        }
    }

    public ValueTask AsValueTask() => new(this, _core.Version);

    public bool TrySetResult()
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }

        Owner?.Completed(1, OwnerBytes);
        _core.SetResult(true);
        return true;
    }

    /// <summary>
    /// The first half of completing a batch's operations together: claims the completion (false when a
    /// timeout, the token or a failure got there first). The caller gives back the claimed operations' room
    /// in one call per owner, then calls <see cref="SetClaimedResult"/> or <see cref="SetClaimedException"/>.
    /// </summary>
    public bool TryClaim() => Interlocked.Exchange(ref _completed, 1) == 0;

    /// <summary>Completes an operation claimed with <see cref="TryClaim"/>; its owner's room was given back already.</summary>
    public void SetClaimedResult() => _core.SetResult(true);

    /// <summary>
    /// Completes an operation claimed with <see cref="TryClaim"/> and runs the awaiting caller's continuation
    /// on this thread, unless the caller captured a synchronization context or scheduler (then it is posted
    /// there). Only for a thread no loop of the connection depends on, or one another thread takes over when
    /// the caller does not return soon (see <c>NsqdConnection.NextRead</c>). The operation may be back in the pool when this returns.
    /// </summary>
    public void SetClaimedResultInline()
    {
        _core.RunContinuationsAsynchronously = false;
        _core.SetResult(true);
    }

    /// <inheritdoc cref="SetClaimedResult"/>
    public void SetClaimedException(Exception error) => _core.SetException(error);

    public bool TrySetException(Exception error)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }

        Owner?.Completed(1, OwnerBytes);
        _core.SetException(error);
        return true;
    }

    /// <summary>The FIFO is done with the slot (its response arrived or the connection died).</summary>
    public void ReleaseFromQueue() => Release();

    /// <summary>The slot never reached the FIFO (the connection was closed); the caller still awaits it.</summary>
    public void ReleaseUnqueued() => Release();

    void IValueTaskSource.GetResult(short token)
    {
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            Release();
        }
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>The operation's timeout slot ended (called by <see cref="TimeoutBuckets"/>, under its lock).</summary>
    public void TimeOut()
    {
        if (IsCompleted)
        {
            return;
        }

        var what = Kind switch
        {
            PendingKind.Publish => $"Publishing to '{_topic}'",
            PendingKind.Subscribe => $"SUB to '{_topic}'",
            _ => "CLS",
        };
        TrySetException(new NsqTimeoutException($"{what} was not acknowledged by nsqd within {_timeout.TotalMilliseconds:0} ms."));
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _owners) != 0)
        {
            return;
        }

        // Both owners are done and the slot is completed: callbacks that still fire find it completed.
        _timeouts?.Leave(this);
        _timeouts = null;
        _cancelRegistration.Dispose();
        _cancelRegistration = default;
        _core.Reset();
        _topic = null;
        NextInBatch = null;
        Queue = null;
        Owner = null;
        Activity = null;
        var cache = t_cache ??= new PendingOperation?[ThreadCacheSize];
        if (t_cached < cache.Length)
        {
            cache[t_cached++] = this;
            return;
        }

        if (Interlocked.Increment(ref s_pooledCount) <= MaxPooled)
        {
            s_pool.Enqueue(this);
        }
        else
        {
            Interlocked.Decrement(ref s_pooledCount);
        }
    }
}

/// <summary>
/// A producer that handed a publish to a connection without awaiting it (its fast path): told when the
/// publish completes, and given a coalesced publish back when its connection closed before writing it.
/// </summary>
internal interface IPublishOwner
{
    /// <summary><paramref name="count"/> publishes of <paramref name="bytes"/> completed (any outcome): their room among the outstanding publishes is free.</summary>
    void Completed(int count, long bytes);

    /// <summary>
    /// The publish was never written (its connection closed while it waited in a topic queue): the owner
    /// sends <paramref name="body"/> on another connection and completes <paramref name="op"/> with the outcome,
    /// or fails it with <paramref name="notSent"/>.
    /// </summary>
    void Resubmit(PendingOperation op, string topic, byte[] body, Exception notSent);
}
