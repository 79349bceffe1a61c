namespace NsqTyped.Testing.Tests.Lookupd;

/// <summary>nsqlookupd command lines mapped to options.</summary>
public sealed class EmbeddedNsqlookupdFlagsTests
{
    [Fact]
    public void Fixture_flags_map_to_options()
    {
        var options = EmbeddedNsqlookupdFlags.Parse(["--tcp-address=127.0.0.1:4160", "--http-address", "127.0.0.1:4161", "-broadcast-address=127.0.0.1"]);

        Assert.Equal("127.0.0.1:4160", options.TcpAddress);
        Assert.Equal("127.0.0.1:4161", options.HttpAddress);
        Assert.Equal("127.0.0.1", options.BroadcastAddress);
        Assert.Equal(TimeSpan.FromSeconds(300), options.InactiveProducerTimeout);
        Assert.Equal(TimeSpan.FromSeconds(45), options.TombstoneLifetime);
    }

    [Fact]
    public void Durations_use_go_syntax()
    {
        var options = EmbeddedNsqlookupdFlags.Parse(["--inactive-producer-timeout=1m30s", "--tombstone-lifetime=500ms", "--log-level=debug", "--verbose"]);

        Assert.Equal(TimeSpan.FromSeconds(90), options.InactiveProducerTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.TombstoneLifetime);
    }

    [Theory]
    [InlineData("--max-rdy-count=5")]
    [InlineData("--tombstone-lifetime=soon")]
    [InlineData("--tcp-address")]
    [InlineData("stray")]
    public void Unknown_or_malformed_flags_are_rejected(string flag)
    {
        Assert.Throws<ArgumentException>(() => EmbeddedNsqlookupdFlags.Parse([flag]));
    }
}
