namespace NsqTyped.Testing.Tests.Tcp;

/// <summary>nsqd command lines mapped to <see cref="EmbeddedNsqdOptions"/>.</summary>
public sealed class EmbeddedNsqdFlagsTests
{
    [Fact]
    public void Flags_map_to_options_with_nsqd_defaults_elsewhere()
    {
        var options = EmbeddedNsqdFlags.Parse(
        [
            "--tcp-address=127.0.0.1:0", "--http-address", "127.0.0.1:0", "--data-path=<data-path>", "--max-rdy-count=10",
            "--max-req-timeout=2s", "--msg-timeout=1m30s", "--max-msg-size=1024", "--snappy=false", "--tls-required=tcp-https",
            "--auth-http-address=127.0.0.1:4181", "--auth-http-address=127.0.0.1:4182", "--lookupd-tcp-address=127.0.0.1:4160",
        ]);

        Assert.Equal(10, options.MaxRdyCount);
        Assert.Equal(TimeSpan.FromSeconds(2), options.MaxReqTimeout);
        Assert.Equal(TimeSpan.FromSeconds(90), options.MsgTimeout);
        Assert.Equal(1024, options.MaxMsgSize);
        Assert.False(options.Snappy);
        Assert.True(options.Deflate);
        Assert.Equal(NsqdTlsRequirement.RequiredExceptHttp, options.TlsRequired);
        Assert.Equal(["127.0.0.1:4181", "127.0.0.1:4182"], options.AuthHttpAddresses);
        Assert.Equal(["127.0.0.1:4160"], options.LookupdTcpAddresses);
        Assert.Equal(TimeSpan.FromMinutes(15), options.MaxMsgTimeout);
        Assert.Equal(5 * 1024 * 1024, options.MaxBodySize);
    }

    [Theory]
    [InlineData("250ms", 2_500_000)]
    [InlineData("1.5h", 54_000_000_000)]
    [InlineData("100us", 1_000)]
    [InlineData("0", 0)]
    public void Durations_use_Go_syntax(string text, long ticks) =>
        Assert.Equal(TimeSpan.FromTicks(ticks), EmbeddedNsqdFlags.ParseDuration("flag", text));

    [Fact]
    public void Unknown_flags_are_refused() =>
        Assert.Throws<ArgumentException>(() => EmbeddedNsqdFlags.Parse(["--no-such-flag=1"]));

    [Fact]
    public async Task Port_zero_picks_a_free_port_on_the_requested_address()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(System.Net.IPAddress.Loopback, nsqd.TcpEndPoint.Address);
        Assert.NotEqual(0, nsqd.TcpEndPoint.Port);
        Assert.Equal($"127.0.0.1:{nsqd.TcpEndPoint.Port}", nsqd.TcpAddress);
    }
}
