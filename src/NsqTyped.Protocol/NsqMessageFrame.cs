using System.Buffers;
using System.Buffers.Binary;

namespace NsqTyped.Protocol;

/// <summary>
/// The fields of a message frame, read in place:
/// <c>[int64 timestamp ns][uint16 attempts][16-byte id][body]</c>. <see cref="Body"/> is a slice of
/// the receive buffer, valid until that buffer is advanced.
/// </summary>
public readonly struct NsqMessageFrame
{
    /// <summary>Bytes before the body: timestamp (8) + attempts (2) + id (16).</summary>
    public const int HeaderLength = 8 + 2 + NsqMessageId.Length;

    /// <summary>Creates a message view.</summary>
    public NsqMessageFrame(long timestampNanoseconds, ushort attempts, NsqMessageId id, ReadOnlySequence<byte> body)
    {
        TimestampNanoseconds = timestampNanoseconds;
        Attempts = attempts;
        Id = id;
        Body = body;
    }

    /// <summary>Publish time in nanoseconds since the Unix epoch (set by nsqd when the message was published).</summary>
    public long TimestampNanoseconds { get; }

    /// <summary>Publish time as a <see cref="DateTimeOffset"/> (100 ns precision).</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.UnixEpoch.AddTicks(TimestampNanoseconds / 100);

    /// <summary>Delivery attempts including this one (nsqd increments it before each delivery).</summary>
    public ushort Attempts { get; }

    /// <summary>The message id.</summary>
    public NsqMessageId Id { get; }

    /// <summary>The message body (a slice of the frame; not copied).</summary>
    public ReadOnlySequence<byte> Body { get; }

    /// <summary>Reads the message fields from a message frame's data.</summary>
    /// <exception cref="NsqProtocolException">The data is shorter than <see cref="HeaderLength"/> bytes.</exception>
    public static NsqMessageFrame Parse(ReadOnlySequence<byte> data)
    {
        if (data.Length < HeaderLength)
        {
            throw new NsqProtocolException($"Message frame data is {data.Length} bytes; at least {HeaderLength} are required.");
        }

        var first = data.FirstSpan;
        if (first.Length >= HeaderLength)
        {
            return new NsqMessageFrame(
                BinaryPrimitives.ReadInt64BigEndian(first),
                BinaryPrimitives.ReadUInt16BigEndian(first[8..]),
                NsqMessageId.Read(first.Slice(10, NsqMessageId.Length)),
                data.Slice(HeaderLength));
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        data.Slice(0, HeaderLength).CopyTo(header);
        return new NsqMessageFrame(
            BinaryPrimitives.ReadInt64BigEndian(header),
            BinaryPrimitives.ReadUInt16BigEndian(header[8..]),
            NsqMessageId.Read(header[10..]),
            data.Slice(HeaderLength));
    }
}
