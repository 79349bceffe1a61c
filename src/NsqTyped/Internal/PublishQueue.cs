using System.Buffers;
using NsqTyped.Diagnostics;
using NsqTyped.Protocol;

namespace NsqTyped.Internal;

/// <summary>
/// The single publishes to one topic that wait on one connection while an earlier command for that topic
/// is unacknowledged. Each body is copied at once into <see cref="_staging"/> in its wire form
/// (<c>[int32 size][body]</c>), so the caller's buffer is free as soon as the call returns and the queue
/// goes out as one PUB (one message) or one MPUB (several) with a single copy. Only touched under the
/// connection's write lock.
/// </summary>
internal sealed class PublishQueue(string topic)
{
    // A staging buffer that grew this large for one burst is dropped rather than kept for the connection's lifetime.
    private const int RetainedCapacity = 1024 * 1024;

    private ArrayBufferWriter<byte> _staging = new(4 * 1024);
    private PendingOperation? _head;
    private PendingOperation? _tail;

    /// <summary>The topic.</summary>
    public string Topic { get; } = topic;

    /// <summary>Publishes waiting (including ones that timed out or were canceled meanwhile).</summary>
    public int Count { get; private set; }

    /// <summary>Bytes the waiting messages add to an MPUB body (each body and its size prefix).</summary>
    public int StagedBytes => _staging.WrittenCount;

    /// <summary>Commands of this topic written (or about to be) whose response has not arrived yet.</summary>
    public int Unacknowledged { get; set; }

    /// <summary>Queues <paramref name="op"/> with a copy of <paramref name="body"/>.</summary>
    public void Add(PendingOperation op, ReadOnlySpan<byte> body)
    {
        op.StagedOffset = _staging.WrittenCount;
        op.StagedLength = body.Length;
        NsqCommandWriter.WriteSizedBody(_staging, body);
        if (_tail is null)
        {
            _head = op;
        }
        else
        {
            _tail.NextInBatch = op;
        }

        _tail = op;
        Count++;
    }

    /// <summary>
    /// Writes the waiting publishes as one command into <paramref name="destination"/>: PUB for one, MPUB for
    /// several. Publishes that completed while waiting (timed out, canceled) are left out and released.
    /// Returns the first operation of the command, chained to the others, or <see langword="null"/> when
    /// none was left to send. The queue is empty afterwards.
    /// </summary>
    public PendingOperation? Drain(IBufferWriter<byte> destination)
    {
        var staged = _staging.WrittenSpan;
        PendingOperation? first = null;
        PendingOperation? last = null;
        var live = 0;
        var skipped = 0;
        long liveBytes = 0;
        for (var op = _head; op is not null;)
        {
            var next = op.NextInBatch;
            if (op.IsCompleted)
            {
                // Timed out or canceled before it was written: it is not sent.
                op.NextInBatch = null;
                op.ReleaseFromQueue();
                skipped++;
            }
            else
            {
                live++;
                liveBytes += op.StagedLength;
                if (last is null)
                {
                    first = op;
                }
                else
                {
                    last.NextInBatch = op;
                }

                last = op;
            }

            op = next;
        }

        if (last is not null)
        {
            last.NextInBatch = null;
            if (live == 1)
            {
                NsqCommandWriter.WritePubLine(destination, Topic);
            }
            else
            {
                NsqCommandWriter.WriteMpubHead(destination, Topic, liveBytes, live);
            }

            CopyLive(destination, first!, staged, skipped == 0);
            TagBatch(first!, live);
        }

        Reset();
        return first;
    }

    /// <summary>
    /// Fails every waiting publish with <paramref name="error"/> (the connection closed before they were written),
    /// except a producer's unawaited ones, which go back to their producer to be sent elsewhere.
    /// </summary>
    public void FailAll(Exception error)
    {
        for (var op = _head; op is not null;)
        {
            var next = op.NextInBatch;
            op.NextInBatch = null;
            if (op.Owner is { } owner && !op.IsCompleted)
            {
                // A producer's publish that nobody awaits inside the producer: the producer moves it on itself.
                owner.Resubmit(op, Topic, _staging.WrittenSpan.Slice(op.StagedOffset + 4, op.StagedLength).ToArray(), error);
            }
            else
            {
                op.TrySetException(error);
            }

            op.ReleaseFromQueue();
            op = next;
        }

        Reset();
    }

    private static void CopyLive(IBufferWriter<byte> destination, PendingOperation first, ReadOnlySpan<byte> staged, bool all)
    {
        if (all)
        {
            destination.Write(staged);
            return;
        }

        for (var op = first; op is not null; op = op.NextInBatch)
        {
            destination.Write(staged.Slice(op.StagedOffset, 4 + op.StagedLength));
        }
    }

    private static void TagBatch(PendingOperation first, int count)
    {
        if (count == 1)
        {
            return;
        }

        for (var op = first; op is not null; op = op.NextInBatch)
        {
            NsqTelemetry.TagCoalesced(op.Activity, count);
        }
    }

    private void Reset()
    {
        _head = null;
        _tail = null;
        Count = 0;
        if (_staging.Capacity > RetainedCapacity)
        {
            _staging = new ArrayBufferWriter<byte>(4 * 1024);
        }
        else
        {
            _staging.ResetWrittenCount();
        }
    }
}
