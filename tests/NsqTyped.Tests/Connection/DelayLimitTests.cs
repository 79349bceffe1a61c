using System.Text;
using NsqTyped.Protocol;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Connection;

/// <summary>
/// DPUB and REQ delays outside 0 – <see cref="NsqdConnectionOptions.MaxReqTimeout"/> (nsqd's --max-req-timeout,
/// which IDENTIFY does not report) are refused before any byte is written: nsqd would close the connection on
/// such a DPUB and silently shorten such a REQ.
/// </summary>
public sealed class DelayLimitTests(NsqTestServers servers)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void The_limit_defaults_to_nsqds_default_of_one_hour_and_must_be_positive()
    {
        Assert.Equal(TimeSpan.FromHours(1), NsqdConnectionOptions.Default.MaxReqTimeout);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => (NsqdConnectionOptions.Default with { MaxReqTimeout = TimeSpan.Zero }).Validate());
        Assert.Equal(nameof(NsqdConnectionOptions.MaxReqTimeout), error.ParamName);
    }

    [Fact]
    public async Task Delays_above_the_limit_or_negative_are_refused_and_only_the_valid_commands_reach_the_wire()
    {
        await using var server = new ScriptedServer();
        var (connection, stream) = await PublishCoalescingTests.ConnectAsync(server);
        await using var __ = stream;
        var id = NsqMessageId.Parse("0123456789abcdef");
        var overLimit = TimeSpan.FromHours(1) + TimeSpan.FromMilliseconds(1);

        var dpub = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await connection.PublishDeferredAsync("delay.limit", "x"u8.ToArray(), overLimit, Ct));
        Assert.Equal("delay", dpub.ParamName);
        Assert.Contains("NsqdConnectionOptions.MaxReqTimeout", dpub.Message, StringComparison.Ordinal);
        Assert.Contains("DPUB", dpub.Message, StringComparison.Ordinal);
        var req = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await connection.RequeueAsync(id, TimeSpan.FromHours(2), cancellationToken: Ct));
        Assert.Contains("NsqdConnectionOptions.MaxReqTimeout", req.Message, StringComparison.Ordinal);
        Assert.Contains("REQ", req.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await connection.RequeueAsync(id, TimeSpan.FromMilliseconds(-1), cancellationToken: Ct));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await connection.PublishDeferredAsync("delay.limit", "x"u8.ToArray(), TimeSpan.FromMilliseconds(-1), Ct));

        // The limit itself is allowed, as nsqd allows it.
        await connection.RequeueAsync(id, TimeSpan.FromHours(1), cancellationToken: Ct);
        await connection.DisposeAsync();

        var received = new MemoryStream();
        await stream.CopyToAsync(received, Ct).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal("REQ 0123456789abcdef 3600000\n", Encoding.ASCII.GetString(received.ToArray()));
    }

    [Fact]
    public async Task The_server_accepts_a_DPUB_at_exactly_the_default_limit()
    {
        // Where the client draws the line is where nsqd (default --max-req-timeout) draws it: the limit itself is valid.
        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);

        await connection.PublishDeferredAsync(NsqTestServers.UniqueTopic("delay.limit"), "x"u8.ToArray(), NsqdConnectionOptions.Default.MaxReqTimeout, Ct);

        Assert.Null(connection.CloseReason);
    }

    [Fact]
    public async Task A_configured_limit_replaces_the_default()
    {
        await using var server = new ScriptedServer();
        var (connection, stream) = await PublishCoalescingTests.ConnectAsync(server, NsqdConnectionOptions.Default with { MaxReqTimeout = TimeSpan.FromSeconds(2) });
        await using var __ = stream;
        var id = NsqMessageId.Parse("0123456789abcdef");

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await connection.PublishDeferredAsync("delay.limit", "x"u8.ToArray(), TimeSpan.FromSeconds(3), Ct));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await connection.RequeueAsync(id, TimeSpan.FromMilliseconds(2001), cancellationToken: Ct));
        await connection.RequeueAsync(id, TimeSpan.FromSeconds(2), cancellationToken: Ct);
        await connection.DisposeAsync();

        var received = new MemoryStream();
        await stream.CopyToAsync(received, Ct).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal("REQ 0123456789abcdef 2000\n", Encoding.ASCII.GetString(received.ToArray()));
    }

    [Fact]
    public async Task A_producer_refuses_a_DPUB_delay_above_its_connections_limit_before_connecting()
    {
        // Nothing listens at the address: a publish that got as far as I/O would fail with a connection error instead.
        await using var producer = new NsqProducer([NsqTestServers.UnusedTcpAddress()], NsqProducerOptions.Default with
        {
            Connection = NsqdConnectionOptions.Default with { MaxReqTimeout = TimeSpan.FromMinutes(5) },
        });

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await producer.PublishDeferredAsync("delay.limit", "x"u8.ToArray(), TimeSpan.FromMinutes(6), Ct));
        Assert.Contains("MaxReqTimeout", error.Message, StringComparison.Ordinal);
    }
}
