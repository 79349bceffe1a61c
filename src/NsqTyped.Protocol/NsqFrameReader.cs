using System.Buffers;
using System.Buffers.Binary;

namespace NsqTyped.Protocol;

/// <summary>
/// Parses server frames <c>[int32 size][int32 type][data]</c> from a receive buffer. The one frame
/// parser of the library: the client connection and the embedded server both use it.
/// </summary>
public static class NsqFrameReader
{
    /// <summary>Default cap on a frame's size field: nsqd's default max-msg-size (1 MiB) plus the message header and frame type.</summary>
    public const int DefaultMaxFrameSize = 1024 * 1024 + NsqMessageFrame.HeaderLength + 4;

    /// <summary>Bytes of the size field.</summary>
    public const int SizeFieldLength = 4;

    internal static ReadOnlySpan<byte> Heartbeat => "_heartbeat_"u8;
    internal static ReadOnlySpan<byte> Ok => "OK"u8;
    internal static ReadOnlySpan<byte> CloseWait => "CLOSE_WAIT"u8;

    /// <summary>
    /// Reads one frame from the start of <paramref name="buffer"/>. On success the frame is returned
    /// and <paramref name="buffer"/> is advanced past it; when the buffer holds only part of a frame,
    /// returns <see langword="false"/> and leaves <paramref name="buffer"/> untouched ("need more data").
    /// </summary>
    /// <param name="buffer">Received bytes; advanced past the frame on success.</param>
    /// <param name="frame">The frame, a view into <paramref name="buffer"/>.</param>
    /// <param name="maxFrameSize">
    /// The largest size field accepted. It is checked as soon as the size field has arrived, before
    /// waiting for the body, so a peer cannot make the reader buffer an arbitrary amount.
    /// </param>
    /// <exception cref="NsqProtocolException">
    /// The size is below 4 or above <paramref name="maxFrameSize"/>, the frame type is unknown, or a
    /// message frame is shorter than <see cref="NsqMessageFrame.HeaderLength"/>.
    /// </exception>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out NsqFrame frame, int maxFrameSize = DefaultMaxFrameSize)
    {
        frame = default;
        var length = buffer.Length;
        if (length < SizeFieldLength)
        {
            return false;
        }

        // Fast path: the header sits in the first segment (almost always), so no slicing is needed to read it.
        var first = buffer.FirstSpan;
        var size = first.Length >= 4 ? BinaryPrimitives.ReadInt32BigEndian(first) : ReadInt32(buffer);
        if (size < 4)
        {
            throw new NsqProtocolException($"Frame size {size} is smaller than the 4-byte frame type.");
        }

        if (size > maxFrameSize)
        {
            throw new NsqProtocolException($"Frame size {size} exceeds the maximum of {maxFrameSize} bytes.");
        }

        if (length < SizeFieldLength + 4)
        {
            return false;
        }

        // The header is judged as soon as it is there, so garbage fails fast instead of waiting for a body.
        var type = first.Length >= 8 ? BinaryPrimitives.ReadInt32BigEndian(first[4..]) : ReadInt32(buffer.Slice(SizeFieldLength));
        if ((uint)type > (uint)NsqFrameType.Message)
        {
            throw new NsqProtocolException($"Unknown frame type {type}.");
        }

        if (type == (int)NsqFrameType.Message && size - 4 < NsqMessageFrame.HeaderLength)
        {
            throw new NsqProtocolException(
                $"Message frame data is {size - 4} bytes; at least {NsqMessageFrame.HeaderLength} are required.");
        }

        if (length - SizeFieldLength < size)
        {
            return false;
        }

        var data = buffer.Slice(SizeFieldLength + 4, size - 4);
        frame = new NsqFrame((NsqFrameType)type, data);
        buffer = buffer.Slice(data.End);
        return true;
    }

    private static int ReadInt32(in ReadOnlySequence<byte> buffer)
    {
        var first = buffer.FirstSpan;
        if (first.Length >= 4)
        {
            return BinaryPrimitives.ReadInt32BigEndian(first);
        }

        Span<byte> bytes = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(bytes);
        return BinaryPrimitives.ReadInt32BigEndian(bytes);
    }
}
