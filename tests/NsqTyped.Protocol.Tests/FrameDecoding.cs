using System.Buffers;

namespace NsqTyped.Protocol.Tests;

/// <summary>A frame copied out of the receive buffer, so it can outlive it in assertions.</summary>
internal sealed record DecodedFrame(NsqFrameType Type, int Size, byte[] Data)
{
    public long Timestamp { get; init; }
    public ushort Attempts { get; init; }
    public NsqMessageId Id { get; init; }
    public byte[] Body { get; init; } = [];
    public NsqServerException? Error { get; init; }

    public static DecodedFrame From(in NsqFrame frame)
    {
        var decoded = new DecodedFrame(frame.Type, frame.Size, frame.Data.ToArray());
        if (frame.Type == NsqFrameType.Message)
        {
            var message = frame.AsMessage();
            decoded = decoded with
            {
                Timestamp = message.TimestampNanoseconds,
                Attempts = message.Attempts,
                Id = message.Id,
                Body = message.Body.ToArray(),
            };
        }
        else if (frame.Type == NsqFrameType.Error)
        {
            decoded = decoded with { Error = frame.ToServerException() };
        }

        return decoded;
    }

    /// <summary>Reads every complete frame; returns the frames and how many bytes were left over.</summary>
    public static (List<DecodedFrame> Frames, long Remaining) ReadAll(ReadOnlySequence<byte> buffer, int maxFrameSize = NsqFrameReader.DefaultMaxFrameSize)
    {
        var frames = new List<DecodedFrame>();
        while (NsqFrameReader.TryReadFrame(ref buffer, out var frame, maxFrameSize))
        {
            frames.Add(From(frame));
        }

        return (frames, buffer.Length);
    }

    /// <summary>
    /// Reads as a connection would: bytes arrive in chunks split at <paramref name="cuts"/>; after each
    /// chunk every complete frame is taken and the rest stays buffered ("need more data").
    /// </summary>
    public static (List<DecodedFrame> Frames, long Remaining) ReadStreaming(byte[] bytes, params int[] cuts)
    {
        var frames = new List<DecodedFrame>();
        var pending = Array.Empty<byte>();
        var start = 0;
        foreach (var end in cuts.Append(bytes.Length))
        {
            // The unconsumed tail and the new chunk are kept as two segments, like a pipe's buffer.
            var buffer = TestSequence.Create(pending, bytes.AsMemory(start, end - start));
            while (NsqFrameReader.TryReadFrame(ref buffer, out var frame))
            {
                frames.Add(From(frame));
            }

            pending = buffer.ToArray();
            start = end;
        }

        return (frames, pending.Length);
    }
}
