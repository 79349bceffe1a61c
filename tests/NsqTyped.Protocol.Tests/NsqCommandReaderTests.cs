using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace NsqTyped.Protocol.Tests;

public class NsqCommandReaderTests
{
    private static ReadOnlySequence<byte> Seq(string text) => new(Encoding.Latin1.GetBytes(text));

    [Fact]
    public void A_line_ends_at_newline_and_a_trailing_carriage_return_is_dropped()
    {
        var buffer = Seq("NOP\r\nRDY 1\n");

        Assert.True(NsqCommandReader.TryReadLine(ref buffer, out var first, 100));
        Assert.True(NsqCommandReader.TryReadLine(ref buffer, out var second, 100));

        Assert.Equal("NOP", Encoding.ASCII.GetString(first.ToArray()));
        Assert.Equal("RDY 1", Encoding.ASCII.GetString(second.ToArray()));
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void A_line_without_newline_is_need_more_data_until_it_gets_too_long()
    {
        var buffer = Seq("PUB t");

        Assert.False(NsqCommandReader.TryReadLine(ref buffer, out _, 100));
        Assert.Equal(5, buffer.Length);

        var longBuffer = Seq(new string('A', 100));
        Assert.Throws<NsqProtocolException>(() => NsqCommandReader.TryReadLine(ref longBuffer, out _, 100));
        var longLine = Seq(new string('A', 100) + "\n");
        Assert.Throws<NsqProtocolException>(() => NsqCommandReader.TryReadLine(ref longLine, out _, 100));
    }

    [Theory]
    [InlineData("SUB t c", new[] { "SUB", "t", "c" })]
    [InlineData("SUB  c", new[] { "SUB", "", "c" })]
    [InlineData("NOP", new[] { "NOP" })]
    [InlineData("", new[] { "" })]
    [InlineData("RDY 1 ", new[] { "RDY", "1", "" })]
    public void Parameters_split_like_gos_bytes_split(string line, string[] expected)
    {
        var bytes = Encoding.ASCII.GetBytes(line);
        Span<Range> ranges = stackalloc Range[8];

        var count = NsqCommandReader.SplitParameters(bytes, ranges);

        Assert.Equal(expected, ranges[..count].ToArray().Select(r => Encoding.ASCII.GetString(bytes[r])).ToArray());
    }

    [Fact]
    public void Splitting_stops_at_the_range_capacity()
    {
        var bytes = "A B C D"u8.ToArray();
        Span<Range> ranges = stackalloc Range[2];

        Assert.Equal(2, NsqCommandReader.SplitParameters(bytes, ranges));
        Assert.Equal("B C D", Encoding.ASCII.GetString(bytes[ranges[1]]));
        Assert.Equal(0, NsqCommandReader.SplitParameters(bytes, []));
    }

    [Theory]
    [InlineData("IDENTIFY", NsqCommandVerb.Identify)]
    [InlineData("AUTH", NsqCommandVerb.Auth)]
    [InlineData("SUB", NsqCommandVerb.Sub)]
    [InlineData("PUB", NsqCommandVerb.Pub)]
    [InlineData("MPUB", NsqCommandVerb.Mpub)]
    [InlineData("DPUB", NsqCommandVerb.Dpub)]
    [InlineData("RDY", NsqCommandVerb.Rdy)]
    [InlineData("FIN", NsqCommandVerb.Fin)]
    [InlineData("REQ", NsqCommandVerb.Req)]
    [InlineData("TOUCH", NsqCommandVerb.Touch)]
    [InlineData("CLS", NsqCommandVerb.Cls)]
    [InlineData("NOP", NsqCommandVerb.Nop)]
    [InlineData("nop", NsqCommandVerb.Unknown)]
    [InlineData("", NsqCommandVerb.Unknown)]
    public void Verbs_are_case_sensitive(string verb, NsqCommandVerb expected) =>
        Assert.Equal(expected, NsqCommandReader.ParseVerb(Encoding.ASCII.GetBytes(verb)));

    [Fact]
    public void Body_commands_are_exactly_the_five_with_a_size_field()
    {
        var withBody = Enum.GetValues<NsqCommandVerb>().Where(NsqCommandReader.HasBody).ToArray();

        Assert.Equal([NsqCommandVerb.Identify, NsqCommandVerb.Auth, NsqCommandVerb.Pub, NsqCommandVerb.Mpub, NsqCommandVerb.Dpub], withBody);
    }

    [Fact]
    public void A_command_with_a_body_is_need_more_data_until_the_body_is_complete()
    {
        var writer = new ArrayBufferWriter<byte>();
        NsqCommandWriter.WritePub(writer, "t", "hello"u8);
        var bytes = writer.WrittenSpan.ToArray();

        for (var length = 0; length < bytes.Length; length++)
        {
            var partial = new ReadOnlySequence<byte>(bytes, 0, length);
            Assert.False(NsqCommandReader.TryReadCommand(ref partial, out _));
            Assert.Equal(length, partial.Length);
        }

        var whole = TestSequence.BytePerSegment(bytes);
        Assert.True(NsqCommandReader.TryReadCommand(ref whole, out var command));
        Assert.Equal(NsqCommandVerb.Pub, command.Verb);
        Assert.Equal("PUB t", Encoding.ASCII.GetString(command.Line.ToArray()));
        Assert.Equal("hello", Encoding.ASCII.GetString(command.Body.ToArray()));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(101)]
    public void Body_sizes_outside_the_limit_are_rejected_before_the_body_arrives(int size)
    {
        var bytes = new byte[9];
        "PUB t\n"u8.CopyTo(bytes);
        var withSize = bytes[..6].Concat(new byte[4]).ToArray();
        BinaryPrimitives.WriteInt32BigEndian(withSize.AsSpan(6), size);
        var buffer = new ReadOnlySequence<byte>(withSize);

        Assert.Throws<NsqProtocolException>(() => NsqCommandReader.TryReadCommand(ref buffer, out _, maxBodySize: 100));
    }

    [Fact]
    public void Unknown_commands_are_read_as_lines_without_a_body()
    {
        var buffer = Seq("FOO bar\nNOP\n");

        Assert.True(NsqCommandReader.TryReadCommand(ref buffer, out var unknown));
        Assert.True(NsqCommandReader.TryReadCommand(ref buffer, out var nop));

        Assert.Equal(NsqCommandVerb.Unknown, unknown.Verb);
        Assert.True(unknown.Body.IsEmpty);
        Assert.Equal(NsqCommandVerb.Nop, nop.Verb);
    }

    [Fact]
    public void Byte_helpers_report_need_more_data()
    {
        var three = new ReadOnlySequence<byte>(new byte[3]);

        Assert.False(NsqCommandReader.TryReadInt32(ref three, out _));
        Assert.False(NsqCommandReader.TryReadBytes(ref three, 4, out _));
        Assert.True(NsqCommandReader.TryReadBytes(ref three, 3, out var all));
        Assert.Equal(3, all.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => NsqCommandReader.TryReadBytes(ref three, -1, out _));
    }
}
