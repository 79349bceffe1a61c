using NsqTyped.Protocol;

namespace NsqTyped.Protocol.Tests;

public class NsqNamesTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("orders.created")]
    [InlineData("A-z_0.9")]
    [InlineData("t#ephemeral")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123")]
    [InlineData("01234567890123456789012345678901234567890123456789012#ephemeral")]
    public void Valid_names_are_accepted(string name)
    {
        Assert.True(NsqNames.IsValidTopicName(name));
        Assert.True(NsqNames.IsValidChannelName(name));
    }

    [Theory]
    [InlineData("")]
    [InlineData("#ephemeral")]
    [InlineData("has space")]
    [InlineData("new\nline")]
    [InlineData("star*")]
    [InlineData("t#ephemeral#ephemeral")]
    [InlineData("t#other")]
    [InlineData("01234567890123456789012345678901234567890123456789012345678901234")]
    [InlineData("0123456789012345678901234567890123456789012345678901234#ephemeral")]
    [InlineData("ünïcode")]
    public void Invalid_names_are_rejected_with_ArgumentException(string name)
    {
        Assert.False(NsqNames.IsValidTopicName(name));
        var ex = Assert.Throws<ArgumentException>(() => NsqNames.ThrowIfInvalidTopic(name));
        Assert.Equal("topic", ex.ParamName);
        Assert.Throws<ArgumentException>(() => NsqNames.ThrowIfInvalidChannel(name));
    }

    [Fact]
    public void Ephemeral_suffix_is_detected()
    {
        Assert.True(NsqNames.IsEphemeral("x#ephemeral"));
        Assert.False(NsqNames.IsEphemeral("x"));
    }
}
