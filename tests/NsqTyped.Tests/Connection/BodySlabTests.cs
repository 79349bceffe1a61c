using System.Buffers;
using System.Runtime.InteropServices;
using NsqTyped.Internal;
using NsqTyped.Protocol.Tests;

namespace NsqTyped.Tests.Connection;

/// <summary>The read loop's body copies: slabs shared by small bodies, never reused, and arrays of their own for large ones.</summary>
public sealed class BodySlabTests
{
    [Fact]
    public void Small_bodies_share_a_slab_in_arrival_order_without_overlapping()
    {
        var slab = new BodySlab();

        var first = slab.Copy(Sequence(Pattern(1, 200)));
        var second = slab.Copy(Sequence(Pattern(2, 1)));
        var third = slab.Copy(Sequence(Pattern(3, BodySlab.MaxSlabbedBody)));

        var a = Segment(first);
        var b = Segment(second);
        var c = Segment(third);
        Assert.Same(a.Array, b.Array);
        Assert.Same(a.Array, c.Array);
        Assert.Equal(BodySlab.SlabSize, a.Array!.Length);
        Assert.Equal((0, 200), (a.Offset, a.Count));
        Assert.Equal((200, 1), (b.Offset, b.Count));
        Assert.Equal((201, BodySlab.MaxSlabbedBody), (c.Offset, c.Count));
        Assert.Equal(Pattern(1, 200), first.ToArray());
        Assert.Equal(Pattern(2, 1), second.ToArray());
        Assert.Equal(Pattern(3, BodySlab.MaxSlabbedBody), third.ToArray());
    }

    [Fact]
    public void A_body_that_does_not_fit_starts_a_new_slab_and_leaves_the_full_one_untouched()
    {
        var slab = new BodySlab();

        // 8 bodies of MaxSlabbedBody fill the slab exactly; the next one, of one byte, no longer fits.
        var kept = CopyAll(slab, Enumerable.Range(0, 8).Select(i => Pattern(i, BodySlab.MaxSlabbedBody)));

        var full = Segment(kept[^1].Body);
        Assert.Equal(BodySlab.SlabSize, full.Offset + full.Count);

        kept.AddRange(CopyAll(slab, [Pattern(100, 1)]));
        var body = kept[^1].Body;

        var fresh = Segment(body);
        Assert.NotSame(full.Array, fresh.Array);
        Assert.Equal(0, fresh.Offset);
        Assert.All(kept, k => Assert.Equal(k.Expected, k.Body.ToArray()));
    }

    [Fact]
    public void A_slab_with_room_left_is_abandoned_when_the_next_body_does_not_fit_and_is_never_written_again()
    {
        var slab = new BodySlab();
        var kept = CopyAll(slab, Enumerable.Range(0, 7).Select(i => Pattern(i, BodySlab.MaxSlabbedBody)).Append(Pattern(7, BodySlab.MaxSlabbedBody - 10)));
        var old = Segment(kept[^1].Body).Array!;
        var tail = old.AsSpan(BodySlab.SlabSize - 10).ToArray();

        // 11 bytes do not fit in the 10 left: a new slab, and many more bodies after it.
        kept.AddRange(CopyAll(slab, Enumerable.Range(0, 500).Select(i => Pattern(1000 + i, 11 + (i % 300)))));

        Assert.Equal(tail, old.AsSpan(BodySlab.SlabSize - 10).ToArray());
        Assert.All(tail, b => Assert.Equal(0, b));
        Assert.All(kept, k => Assert.Equal(k.Expected, k.Body.ToArray()));
        AssertDisjoint(kept.Select(k => k.Body));
    }

    [Fact]
    public void A_body_above_the_threshold_gets_an_array_of_its_own_and_the_slab_goes_on_after_it()
    {
        var slab = new BodySlab();
        var before = slab.Copy(Sequence(Pattern(1, 100)));

        var large = Pattern(2, BodySlab.MaxSlabbedBody + 1);
        var own = slab.Copy(Sequence(large));
        var after = slab.Copy(Sequence(Pattern(3, 100)));

        var segment = Segment(own);
        Assert.Equal((0, large.Length, large.Length), (segment.Offset, segment.Count, segment.Array!.Length));
        Assert.Equal(large, own.ToArray());
        Assert.Same(Segment(before).Array, Segment(after).Array);
        Assert.Equal(100, Segment(after).Offset);
    }

    [Fact]
    public void An_empty_body_takes_no_memory_and_no_room_in_the_slab()
    {
        var slab = new BodySlab();
        var first = slab.Copy(Sequence(Pattern(1, 10)));

        var empty = slab.Copy(ReadOnlySequence<byte>.Empty);
        var next = slab.Copy(Sequence(Pattern(2, 10)));

        Assert.True(empty.IsEmpty);
        Assert.Equal(10, Segment(next).Offset);
        Assert.Same(Segment(first).Array, Segment(next).Array);
    }

    [Fact]
    public void A_body_split_across_receive_buffer_segments_is_copied_whole()
    {
        var slab = new BodySlab();
        var expected = Pattern(9, 300);

        var small = slab.Copy(TestSequence.Split(expected, 1, 150));
        var large = slab.Copy(TestSequence.Split(Pattern(10, 5000), 4000));

        Assert.Equal(expected, small.ToArray());
        Assert.Equal(Pattern(10, 5000), large.ToArray());
    }

    [Fact]
    public void Copying_small_bodies_allocates_only_whole_slabs()
    {
        var slab = new BodySlab();
        var body = Sequence(Pattern(1, 200));
        slab.Copy(body);
        const int count = 10_000;

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < count; i++)
        {
            slab.Copy(body);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // 40 bodies of 200 B per 8 KiB slab: 250 slabs; one array of its own per body would be 10,000 × 224 B.
        var slabs = (count + 39) / 40;
        Assert.InRange(allocated, (slabs - 1) * (long)BodySlab.SlabSize, slabs * (BodySlab.SlabSize + 64L));
    }

    internal static byte[] Pattern(int seed, int length)
    {
        var bytes = new byte[length];
        for (var j = 0; j < length; j++)
        {
            bytes[j] = (byte)((seed * 31) + (j * 7) + 1);
        }

        return bytes;
    }

    internal static ArraySegment<byte> Segment(ReadOnlyMemory<byte> body)
    {
        Assert.True(MemoryMarshal.TryGetArray(body, out var segment), "a body is backed by an array");
        Assert.Equal(body.Length, segment.Count);
        return segment;
    }

    /// <summary>No byte belongs to two bodies: memory handed out once is never handed out again.</summary>
    internal static void AssertDisjoint(IEnumerable<ReadOnlyMemory<byte>> bodies)
    {
        foreach (var group in bodies.Where(b => !b.IsEmpty).Select(Segment).GroupBy(s => s.Array!, ReferenceEqualityComparer.Instance))
        {
            var end = 0;
            foreach (var segment in group.OrderBy(s => s.Offset))
            {
                Assert.True(segment.Offset >= end, $"a body at offset {segment.Offset} overlaps the one before it, which ends at {end}");
                end = segment.Offset + segment.Count;
            }
        }
    }

    private static ReadOnlySequence<byte> Sequence(byte[] bytes) => new(bytes);

    /// <summary>Copies each body in turn, keeping what came back next to what was copied.</summary>
    private static List<(ReadOnlyMemory<byte> Body, byte[] Expected)> CopyAll(BodySlab slab, IEnumerable<byte[]> bodies) =>
        [.. bodies.Select(expected => (slab.Copy(Sequence(expected)), expected))];
}
