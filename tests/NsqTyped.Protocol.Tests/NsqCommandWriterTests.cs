using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace NsqTyped.Protocol.Tests;

public class NsqCommandWriterTests
{
    private static readonly NsqMessageId Id = NsqMessageId.Parse("0123456789abcdef");

    private static byte[] Write(Action<IBufferWriter<byte>> write)
    {
        var writer = new ArrayBufferWriter<byte>();
        write(writer);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Text with <c>{n}</c> markers replaced by n as a 4-byte big-endian int.</summary>
    private static byte[] Bytes(params object[] parts)
    {
        var result = new List<byte>();
        foreach (var part in parts)
        {
            switch (part)
            {
                case string text:
                    result.AddRange(Encoding.ASCII.GetBytes(text));
                    break;
                case int number:
                    var size = new byte[4];
                    BinaryPrimitives.WriteInt32BigEndian(size, number);
                    result.AddRange(size);
                    break;
                default:
                    throw new ArgumentException(part.ToString());
            }
        }

        return result.ToArray();
    }

    [Fact]
    public void Magic_is_two_spaces_and_V2() => Assert.Equal(Bytes("  V2"), Write(NsqCommandWriter.WriteMagic));

    [Fact]
    public void Identify_writes_the_json_with_a_size_prefix() =>
        Assert.Equal(Bytes("IDENTIFY\n", 2, "{}"), Write(w => NsqCommandWriter.WriteIdentify(w, "{}"u8)));

    [Fact]
    public void Identify_from_a_request_omits_unset_properties()
    {
        var request = new NsqIdentifyRequest { ClientId = "c", HeartbeatInterval = 1000, FeatureNegotiation = true };
        var json = """{"client_id":"c","feature_negotiation":true,"heartbeat_interval":1000}""";

        Assert.Equal(Bytes("IDENTIFY\n", json.Length, json), Write(w => NsqCommandWriter.WriteIdentify(w, request)));
    }

    [Fact]
    public void Auth_writes_the_secret_with_a_size_prefix() =>
        Assert.Equal(Bytes("AUTH\n", 6, "secret"), Write(w => NsqCommandWriter.WriteAuth(w, "secret"u8)));

    [Fact]
    public void Sub_writes_topic_and_channel() =>
        Assert.Equal(Bytes("SUB orders ch#ephemeral\n"), Write(w => NsqCommandWriter.WriteSub(w, "orders", "ch#ephemeral")));

    [Fact]
    public void Pub_writes_topic_size_and_body() =>
        Assert.Equal(Bytes("PUB t\n", 5, "hello"), Write(w => NsqCommandWriter.WritePub(w, "t", "hello"u8)));

    [Fact]
    public void Pub_with_a_multi_segment_body_writes_the_same_bytes()
    {
        var body = TestSequence.Split("hello"u8.ToArray(), 1, 3);

        Assert.Equal(Bytes("PUB t\n", 5, "hello"), Write(w => NsqCommandWriter.WritePub(w, "t", body)));
    }

    [Fact]
    public void Dpub_writes_the_deferral_in_milliseconds() =>
        Assert.Equal(Bytes("DPUB t 1500\n", 2, "hi"), Write(w => NsqCommandWriter.WriteDpub(w, "t", 1500, "hi"u8)));

    [Fact]
    public void Dpub_with_a_sequence_body_writes_the_same_bytes() =>
        Assert.Equal(Bytes("DPUB t 0\n", 2, "hi"), Write(w => NsqCommandWriter.WriteDpub(w, "t", 0, new ReadOnlySequence<byte>("hi"u8.ToArray()))));

    [Fact]
    public void Mpub_writes_body_size_count_and_sized_messages()
    {
        ReadOnlyMemory<byte>[] messages = ["a"u8.ToArray(), "bcd"u8.ToArray()];

        Assert.Equal(
            Bytes("MPUB t\n", 4 + 4 + 1 + 4 + 3, 2, 1, "a", 3, "bcd"),
            Write(w => NsqCommandWriter.WriteMpub(w, "t", messages)));
    }

    [Theory]
    [InlineData(0, "RDY 0\n")]
    [InlineData(1, "RDY 1\n")]
    [InlineData(2500, "RDY 2500\n")]
    [InlineData(long.MaxValue, "RDY 9223372036854775807\n")]
    public void Rdy_writes_the_count_in_decimal(long count, string expected) =>
        Assert.Equal(Bytes(expected), Write(w => NsqCommandWriter.WriteRdy(w, count)));

    [Fact]
    public void Fin_writes_the_16_id_bytes() =>
        Assert.Equal(Bytes("FIN 0123456789abcdef\n"), Write(w => NsqCommandWriter.WriteFin(w, Id)));

    [Fact]
    public void Req_writes_id_and_timeout() =>
        Assert.Equal(Bytes("REQ 0123456789abcdef 60000\n"), Write(w => NsqCommandWriter.WriteReq(w, Id, 60000)));

    [Fact]
    public void Req_with_zero_timeout_writes_zero() =>
        Assert.Equal(Bytes("REQ 0123456789abcdef 0\n"), Write(w => NsqCommandWriter.WriteReq(w, Id, 0)));

    [Fact]
    public void Touch_writes_the_id() =>
        Assert.Equal(Bytes("TOUCH 0123456789abcdef\n"), Write(w => NsqCommandWriter.WriteTouch(w, Id)));

    [Fact]
    public void Cls_and_Nop_are_bare_verbs()
    {
        Assert.Equal(Bytes("CLS\n"), Write(NsqCommandWriter.WriteCls));
        Assert.Equal(Bytes("NOP\n"), Write(NsqCommandWriter.WriteNop));
    }

    [Fact]
    public void Commands_append_to_what_the_writer_already_holds()
    {
        var writer = new ArrayBufferWriter<byte>();
        NsqCommandWriter.WriteMagic(writer);
        NsqCommandWriter.WriteRdy(writer, 3);
        NsqCommandWriter.WriteNop(writer);

        Assert.Equal(Bytes("  V2RDY 3\nNOP\n"), writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Empty_bodies_are_rejected_before_anything_is_written()
    {
        var writer = new ArrayBufferWriter<byte>();

        Assert.Throws<ArgumentException>(() => NsqCommandWriter.WritePub(writer, "t", ReadOnlySpan<byte>.Empty));
        Assert.Throws<ArgumentException>(() => NsqCommandWriter.WritePub(writer, "t", ReadOnlySequence<byte>.Empty));
        Assert.Throws<ArgumentException>(() => NsqCommandWriter.WriteDpub(writer, "t", 1, ReadOnlySpan<byte>.Empty));
        Assert.Throws<ArgumentException>(() => NsqCommandWriter.WriteMpub(writer, "t", ReadOnlySpan<ReadOnlyMemory<byte>>.Empty));
        Assert.Throws<ArgumentException>(() => NsqCommandWriter.WriteMpub(writer, "t", new ReadOnlyMemory<byte>[] { "a"u8.ToArray(), ReadOnlyMemory<byte>.Empty }));
        Assert.Throws<ArgumentException>(() => NsqCommandWriter.WriteIdentify(writer, ReadOnlySpan<byte>.Empty));
        Assert.Throws<ArgumentException>(() => NsqCommandWriter.WriteAuth(writer, ReadOnlySpan<byte>.Empty));
        Assert.Equal(0, writer.WrittenCount);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("a\nPUB x")]
    [InlineData("#ephemeral")]
    [InlineData("ünicode")]
    [InlineData("01234567890123456789012345678901234567890123456789012345678901234")]
    public void Invalid_names_are_rejected_before_anything_is_written(string name)
    {
        var writer = new ArrayBufferWriter<byte>();

        Assert.Throws<ArgumentException>(() => NsqCommandWriter.WritePub(writer, name, "x"u8));
        Assert.Throws<ArgumentException>(() => NsqCommandWriter.WriteDpub(writer, name, 0, "x"u8));
        Assert.Throws<ArgumentException>(() => NsqCommandWriter.WriteMpub(writer, name, new ReadOnlyMemory<byte>[] { "x"u8.ToArray() }));
        Assert.Throws<ArgumentException>(() => NsqCommandWriter.WriteSub(writer, name, "ch"));
        Assert.Throws<ArgumentException>(() => NsqCommandWriter.WriteSub(writer, "t", name));
        Assert.Equal(0, writer.WrittenCount);
    }

    [Fact]
    public void Null_names_and_writers_are_rejected()
    {
        var writer = new ArrayBufferWriter<byte>();

        Assert.Throws<ArgumentNullException>(() => NsqCommandWriter.WritePub(writer, null!, "x"u8));
        Assert.Throws<ArgumentNullException>(() => NsqCommandWriter.WriteSub(writer, "t", null!));
        Assert.Throws<ArgumentNullException>(() => NsqCommandWriter.WriteNop(null!));
        Assert.Throws<ArgumentNullException>(() => NsqCommandWriter.WriteIdentify(writer, (NsqIdentifyRequest)null!));
    }

    [Fact]
    public void Negative_numbers_are_rejected_before_anything_is_written()
    {
        var writer = new ArrayBufferWriter<byte>();

        Assert.Throws<ArgumentOutOfRangeException>(() => NsqCommandWriter.WriteRdy(writer, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => NsqCommandWriter.WriteReq(writer, Id, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => NsqCommandWriter.WriteDpub(writer, "t", -1, "x"u8));
        Assert.Equal(0, writer.WrittenCount);
    }

    [Fact]
    public void Written_commands_read_back_with_the_command_reader()
    {
        var writer = new ArrayBufferWriter<byte>();
        NsqCommandWriter.WritePub(writer, "t", "body"u8);
        NsqCommandWriter.WriteReq(writer, Id, 5);
        var buffer = new ReadOnlySequence<byte>(writer.WrittenMemory);

        Assert.True(NsqCommandReader.TryReadCommand(ref buffer, out var pub));
        Assert.True(NsqCommandReader.TryReadCommand(ref buffer, out var req));

        Assert.Equal(NsqCommandVerb.Pub, pub.Verb);
        Assert.Equal("body"u8.ToArray(), pub.Body.ToArray());
        Assert.Equal(NsqCommandVerb.Req, req.Verb);
        Assert.Equal("REQ 0123456789abcdef 5"u8.ToArray(), req.Line.ToArray());
        Assert.True(buffer.IsEmpty);
    }
}
