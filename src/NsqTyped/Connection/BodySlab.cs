using System.Buffers;

namespace NsqTyped.Internal;

/// <summary>
/// Where a connection's read loop copies message bodies out of its receive buffer: small bodies are
/// carved one after another out of a shared array (a slab) instead of getting one array each, so a
/// consumed message costs one allocation (its <see cref="NsqMessage"/>) plus a share of a slab.
/// </summary>
/// <remarks>
/// <para>
/// A slab is never reused: the read loop only moves forward through it and, when a body does not fit
/// in what is left, abandons it to the GC and starts a new one. A body therefore stays valid, and
/// unchanged, for as long as anything references it (after FIN too), exactly like an array of its own;
/// nothing is pooled or returned.
/// </para>
/// <para>
/// The price is retention: a body keeps its whole slab alive. Bodies up to <see cref="MaxSlabbedBody"/>
/// share slabs of <see cref="SlabSize"/>; larger ones get their own array, where a slab would save
/// little (the 24-byte array header is under 2.4% of such a body) and would leave up to a body's size
/// unused at the end of a slab. So one referenced message keeps at most 8 KiB (plus the array header)
/// alive beyond its own object, whatever its size. A Reader references only the messages in its work
/// queue (at most <c>MaxInFlight</c>) and in its running handlers, so through its own references it keeps
/// at most (<c>MaxInFlight</c> + handlers running + one message per connection waiting for queue room) × 8 KiB,
/// plus each connection's current slab, alive:
/// about 20 MiB at <c>MaxInFlight</c> 2500, and only when every one of those messages sits in a different
/// slab; messages answered in about the order they arrived share slabs (≈ 40 of 200 B each).
/// An application that keeps a few bodies for long should keep <c>Body.ToArray()</c> instead.
/// </para>
/// <para>
/// Only the read loop calls <see cref="Copy"/>, so there is no locking.
/// </para>
/// </remarks>
internal sealed class BodySlab
{
    /// <summary>
    /// The size of one slab: large enough for ≈ 40 bodies of 200 B (one array allocation per 40 messages
    /// instead of one each), small enough that a body kept alive keeps little else alive, and far below the
    /// 85,000-byte large-object threshold.
    /// </summary>
    public const int SlabSize = 8 * 1024;

    /// <summary>
    /// The largest body carved out of a slab (1/8 of it, so a body that does not fit abandons at most 1/8 of a
    /// slab unused); larger bodies get an array of their own.
    /// </summary>
    public const int MaxSlabbedBody = SlabSize / 8;

    private byte[] _slab = [];
    private int _used;

    /// <summary>
    /// Copies <paramref name="body"/> into memory that is never written again: the current slab (a new one
    /// when it is full), or an array of its own when it is larger than <see cref="MaxSlabbedBody"/>.
    /// </summary>
    public ReadOnlyMemory<byte> Copy(in ReadOnlySequence<byte> body)
    {
        var length = (int)body.Length;
        if (length == 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        if (length > MaxSlabbedBody)
        {
            // Every byte is written before anyone sees it: no need to zero the array first.
            var own = GC.AllocateUninitializedArray<byte>(length);
            body.CopyTo(own);
            return own;
        }

        if (length > _slab.Length - _used)
        {
            // Zeroed (unlike a body's own array): MemoryMarshal.TryGetArray hands out the whole slab, whose
            // unwritten tail must not show whatever memory the GC handed over.
            _slab = new byte[SlabSize];
            _used = 0;
        }

        var start = _used;
        body.CopyTo(_slab.AsSpan(start, length));
        _used = start + length;
        return new ReadOnlyMemory<byte>(_slab, start, length);
    }
}
