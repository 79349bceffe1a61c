using System.Buffers;
using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using NsqTyped.Protocol;

namespace NsqTyped.Benchmarks;

/// <summary>The protocol core's hot paths; each must allocate nothing per operation.</summary>
[MemoryDiagnoser]
public class ProtocolBenchmarks
{
    private const int BodySize = 200;
    private const int MpubCount = 200;

    // Reused across operations: ResetWrittenCount keeps the array, so writing costs no allocation.
    private readonly ArrayBufferWriter<byte> _writer = new(64 * 1024);
    private readonly byte[] _body = new byte[BodySize];
    private readonly ReadOnlyMemory<byte>[] _messages = new ReadOnlyMemory<byte>[MpubCount];
    private readonly NsqMessageId _id = NsqMessageId.Read("0123456789abcdef"u8);
    private byte[] _messageFrame = [];

    /// <summary>Builds a message frame with a 200-byte body and the message set for MPUB.</summary>
    [GlobalSetup]
    public void Setup()
    {
        new Random(42).NextBytes(_body);
        for (var i = 0; i < _messages.Length; i++)
        {
            _messages[i] = _body;
        }

        _messageFrame = new byte[8 + NsqMessageFrame.HeaderLength + BodySize];
        BinaryPrimitives.WriteInt32BigEndian(_messageFrame, 4 + NsqMessageFrame.HeaderLength + BodySize);
        BinaryPrimitives.WriteInt32BigEndian(_messageFrame.AsSpan(4), (int)NsqFrameType.Message);
        BinaryPrimitives.WriteInt64BigEndian(_messageFrame.AsSpan(8), 1_700_000_000_000_000_000);
        BinaryPrimitives.WriteUInt16BigEndian(_messageFrame.AsSpan(16), 1);
        "0123456789abcdef"u8.CopyTo(_messageFrame.AsSpan(18));
        _body.CopyTo(_messageFrame.AsSpan(8 + NsqMessageFrame.HeaderLength));
    }

    /// <summary>Parses one message frame (200-byte body) and reads its fields.</summary>
    [Benchmark]
    public long ParseMessageFrame()
    {
        var buffer = new ReadOnlySequence<byte>(_messageFrame);
        NsqFrameReader.TryReadFrame(ref buffer, out var frame);
        var message = frame.AsMessage();
        return message.TimestampNanoseconds + message.Attempts + message.Body.Length + message.Id.GetHashCode();
    }

    /// <summary>Writes PUB with a 200-byte body.</summary>
    [Benchmark]
    public int WritePub()
    {
        _writer.ResetWrittenCount();
        NsqCommandWriter.WritePub(_writer, "bench.topic", _body);
        return _writer.WrittenCount;
    }

    /// <summary>Writes MPUB with 200 messages of 200 bytes.</summary>
    [Benchmark]
    public int WriteMpub()
    {
        _writer.ResetWrittenCount();
        NsqCommandWriter.WriteMpub(_writer, "bench.topic", _messages);
        return _writer.WrittenCount;
    }

    /// <summary>Writes RDY.</summary>
    [Benchmark]
    public int WriteRdy()
    {
        _writer.ResetWrittenCount();
        NsqCommandWriter.WriteRdy(_writer, 2500);
        return _writer.WrittenCount;
    }

    /// <summary>Writes FIN.</summary>
    [Benchmark]
    public int WriteFin()
    {
        _writer.ResetWrittenCount();
        NsqCommandWriter.WriteFin(_writer, _id);
        return _writer.WrittenCount;
    }
}
