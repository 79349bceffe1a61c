using System.Buffers.Binary;
using NsqTyped.Testing.Nsqd.Broker;

namespace NsqTyped.Testing.Nsqd.Tcp;

/// <summary>
/// Server-to-client frames of protocol V2: <c>[int32 size][int32 type][data]</c>, size counting type
/// and data; message data is <c>[int64 timestamp][uint16 attempts][16-byte id][body]</c>. The protocol
/// core only writes client commands, so the server's frames are written here.
/// </summary>
internal static class NsqdFrameWriter
{
    public const int FrameTypeResponse = 0;
    public const int FrameTypeError = 1;
    public const int FrameTypeMessage = 2;

    /// <summary>Bytes of the frame header plus the message header.</summary>
    public const int MessageOverhead = 8 + 8 + 2 + 16;

    public static int FrameLength(int dataLength) => 8 + dataLength;

    public static void WriteFrame(Span<byte> destination, int frameType, ReadOnlySpan<byte> data)
    {
        BinaryPrimitives.WriteInt32BigEndian(destination, data.Length + 4);
        BinaryPrimitives.WriteInt32BigEndian(destination[4..], frameType);
        data.CopyTo(destination[8..]);
    }

    public static void WriteMessage(Span<byte> destination, NsqdMessage message)
    {
        var body = message.Body.Span;
        BinaryPrimitives.WriteInt32BigEndian(destination, 4 + 8 + 2 + 16 + body.Length);
        BinaryPrimitives.WriteInt32BigEndian(destination[4..], FrameTypeMessage);
        BinaryPrimitives.WriteInt64BigEndian(destination[8..], message.TimestampNanoseconds);
        BinaryPrimitives.WriteUInt16BigEndian(destination[16..], message.Attempts);
        message.Id.CopyTo(destination[18..]);
        body.CopyTo(destination[34..]);
    }
}
