using System.Buffers;

namespace NsqTyped.Protocol;

/// <summary>Frame types of server → client frames.</summary>
public enum NsqFrameType
{
    /// <summary>A response (<c>OK</c>, <c>_heartbeat_</c>, <c>CLOSE_WAIT</c>, JSON).</summary>
    Response = 0,
    /// <summary>An error (<c>E_CODE description</c>).</summary>
    Error = 1,
    /// <summary>A message.</summary>
    Message = 2,
}

/// <summary>
/// One server frame: its type and a slice of the receive buffer holding its data. The slice is
/// only valid until the buffer it came from is advanced past it.
/// </summary>
public readonly struct NsqFrame
{
    /// <summary>Creates a frame view over <paramref name="data"/>.</summary>
    public NsqFrame(NsqFrameType type, ReadOnlySequence<byte> data)
    {
        Type = type;
        Data = data;
    }

    /// <summary>The frame type.</summary>
    public NsqFrameType Type { get; }

    /// <summary>The frame data (after the size and type fields).</summary>
    public ReadOnlySequence<byte> Data { get; }

    /// <summary>The size field of the frame: 4 (frame type) + data length.</summary>
    public int Size => checked((int)Data.Length + 4);

    /// <summary>Whether this is the <c>_heartbeat_</c> response.</summary>
    public bool IsHeartbeat => Type == NsqFrameType.Response && DataEquals(NsqFrameReader.Heartbeat);

    /// <summary>Whether this is the <c>OK</c> response.</summary>
    public bool IsOk => Type == NsqFrameType.Response && DataEquals(NsqFrameReader.Ok);

    /// <summary>Whether this is the <c>CLOSE_WAIT</c> response to CLS.</summary>
    public bool IsCloseWait => Type == NsqFrameType.Response && DataEquals(NsqFrameReader.CloseWait);

    /// <summary>Whether the data equals <paramref name="expected"/> byte for byte.</summary>
    public bool DataEquals(ReadOnlySpan<byte> expected)
    {
        if (Data.Length != expected.Length)
        {
            return false;
        }

        if (Data.IsSingleSegment)
        {
            return Data.FirstSpan.SequenceEqual(expected);
        }

        var reader = new SequenceReader<byte>(Data);
        return reader.IsNext(expected, advancePast: false);
    }

    /// <summary>Reads a message frame's fields.</summary>
    /// <exception cref="InvalidOperationException">This is not a message frame.</exception>
    public NsqMessageFrame AsMessage() =>
        Type == NsqFrameType.Message
            ? NsqMessageFrame.Parse(Data)
            : throw new InvalidOperationException($"A {Type} frame is not a message.");

    /// <summary>Turns an error frame into an <see cref="NsqServerException"/> (allocates; errors are rare).</summary>
    /// <exception cref="InvalidOperationException">This is not an error frame.</exception>
    public NsqServerException ToServerException()
    {
        if (Type != NsqFrameType.Error)
        {
            throw new InvalidOperationException($"A {Type} frame is not an error.");
        }

        return NsqErrors.ToException(Data.IsSingleSegment ? Data.FirstSpan : Data.ToArray());
    }
}
