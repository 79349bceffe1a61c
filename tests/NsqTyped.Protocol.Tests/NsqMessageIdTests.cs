namespace NsqTyped.Protocol.Tests;

public class NsqMessageIdTests
{
    [Fact]
    public void Id_round_trips_through_its_bytes_and_text()
    {
        var id = NsqMessageId.Read("18acfbe6cca69000"u8);
        Span<byte> bytes = stackalloc byte[NsqMessageId.Length];
        id.CopyTo(bytes);

        Assert.Equal("18acfbe6cca69000", id.ToString());
        Assert.Equal("18acfbe6cca69000"u8.ToArray(), bytes.ToArray());
        Assert.Equal(id, NsqMessageId.Parse("18acfbe6cca69000"));
        Assert.True(id.IsHex);
    }

    [Fact]
    public void Equality_is_by_bytes()
    {
        var a = NsqMessageId.Parse("0000000000000001");
        var b = NsqMessageId.Parse("0000000000000001");
        var c = NsqMessageId.Parse("1000000000000000");

        Assert.True(a == b);
        Assert.True(a != c);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.False(a.Equals((object)"0000000000000001"));
    }

    [Fact]
    public void Non_hex_ids_are_kept_but_reported()
    {
        var id = NsqMessageId.Read("not-hex-at-all!!"u8);

        Assert.False(id.IsHex);
        Assert.Equal("not-hex-at-all!!", id.ToString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(17)]
    public void Reading_other_lengths_is_an_argument_error(int length) =>
        Assert.Throws<ArgumentException>(() => NsqMessageId.Read(new byte[length]));

    [Theory]
    [InlineData("")]
    [InlineData("0123456789abcde")]
    [InlineData("0123456789abcdef0")]
    [InlineData("0123456789abcdeé")]
    public void Parsing_malformed_text_is_a_format_error(string text) =>
        Assert.Throws<FormatException>(() => NsqMessageId.Parse(text));
}
