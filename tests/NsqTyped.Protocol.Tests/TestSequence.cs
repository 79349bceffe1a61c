using System.Buffers;

namespace NsqTyped.Protocol.Tests;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, the shape a PipeReader hands out.</summary>
internal static class TestSequence
{
    public static ReadOnlySequence<byte> Create(params ReadOnlyMemory<byte>[] segments)
    {
        if (segments.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        if (segments.Length == 1)
        {
            return new ReadOnlySequence<byte>(segments[0]);
        }

        var first = new Segment(segments[0], 0);
        var last = first;
        for (var i = 1; i < segments.Length; i++)
        {
            last = last.Append(segments[i]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Splits <paramref name="bytes"/> at the given ascending positions (each segment a separate array).</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] positions)
    {
        var segments = new List<ReadOnlyMemory<byte>>();
        var start = 0;
        foreach (var position in positions.Append(bytes.Length))
        {
            // Copies make each segment its own array, so no code path can read across by accident.
            segments.Add(bytes.AsSpan(start, position - start).ToArray());
            start = position;
        }

        return Create([.. segments]);
    }

    /// <summary>One segment per byte: the worst case for every "fits in the first span" fast path.</summary>
    public static ReadOnlySequence<byte> BytePerSegment(byte[] bytes) =>
        bytes.Length == 0 ? ReadOnlySequence<byte>.Empty : Split(bytes, [.. Enumerable.Range(1, bytes.Length - 1)]);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
