using NsqTyped.Internal;
using NsqTyped.Protocol;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Connection;

/// <summary>Argument and option checks that must fire before any I/O (no server involved).</summary>
public sealed class NsqdConnectionValidationTests
{
    // Nothing listens here: if a check let a call through to I/O, the test would see a connection error instead.
    private readonly string Unreachable = NsqTestServers.UnusedTcpAddress();

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("host:")]
    [InlineData("host:notaport")]
    [InlineData("host:70000")]
    [InlineData(":4150")]
    public void Constructor_rejects_malformed_addresses(string address) =>
        Assert.ThrowsAny<ArgumentException>(() => new NsqdConnection(address));

    [Theory]
    [InlineData("nsqd", "nsqd", 4150)]
    [InlineData("nsqd:4151", "nsqd", 4151)]
    [InlineData("127.0.0.1:4150", "127.0.0.1", 4150)]
    [InlineData("[::1]:4152", "::1", 4152)]
    [InlineData("::1", "::1", 4150)]
    public void Addresses_parse_host_and_port(string address, string host, int port)
    {
        var endpoint = NsqEndpoint.Parse(address, 4150);
        Assert.Equal(host, endpoint.Host);
        Assert.Equal(port, endpoint.Port);
    }

    public static TheoryData<NsqdConnectionOptions> InvalidOptions() =>
    [
        NsqdConnectionOptions.Default with { HeartbeatInterval = TimeSpan.FromMilliseconds(999) },
        NsqdConnectionOptions.Default with { OutputBufferSize = 63 },
        NsqdConnectionOptions.Default with { OutputBufferTimeout = TimeSpan.Zero },
        NsqdConnectionOptions.Default with { Snappy = true, Deflate = true },
        NsqdConnectionOptions.Default with { DeflateLevel = 0 },
        NsqdConnectionOptions.Default with { DeflateLevel = 10 },
        NsqdConnectionOptions.Default with { SampleRate = -1 },
        NsqdConnectionOptions.Default with { SampleRate = 100 },
        NsqdConnectionOptions.Default with { MsgTimeout = TimeSpan.FromMilliseconds(999) },
        NsqdConnectionOptions.Default with { AuthSecret = "" },
        NsqdConnectionOptions.Default with { ConnectTimeout = TimeSpan.Zero },
        NsqdConnectionOptions.Default with { ReadTimeout = TimeSpan.FromSeconds(-2) },
        NsqdConnectionOptions.Default with { MaxMessageSize = 0 },
        NsqdConnectionOptions.Default with { MaxBodySize = 0 },
        NsqdConnectionOptions.Default with { Tls = new NsqTlsOptions { TargetHost = "" } },
    ];

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Out_of_range_options_are_rejected_by_the_constructor(NsqdConnectionOptions options) =>
        Assert.ThrowsAny<ArgumentException>(() => new NsqdConnection(Unreachable, options));

    [Fact]
    public void Disabled_heartbeats_and_buffers_are_sent_as_minus_one()
    {
        var request = (NsqdConnectionOptions.Default with
        {
            HeartbeatInterval = Timeout.InfiniteTimeSpan,
            OutputBufferSize = -1,
            OutputBufferTimeout = Timeout.InfiniteTimeSpan,
        }).ToIdentifyRequest();

        Assert.Equal(-1, request.HeartbeatInterval);
        Assert.Equal(-1, request.OutputBufferSize);
        Assert.Equal(-1, request.OutputBufferTimeout);
    }

    [Fact]
    public void Identify_carries_every_negotiated_option()
    {
        var options = NsqdConnectionOptions.Default with
        {
            ClientId = "worker-1",
            Hostname = "worker-1.example",
            UserAgent = "app/2.0",
            HeartbeatInterval = TimeSpan.FromSeconds(5),
            OutputBufferSize = 4096,
            OutputBufferTimeout = TimeSpan.FromMilliseconds(100),
            Tls = new NsqTlsOptions(),
            Deflate = true,
            DeflateLevel = 3,
            SampleRate = 10,
            MsgTimeout = TimeSpan.FromSeconds(90),
        };

        var json = System.Text.Encoding.UTF8.GetString(options.ToIdentifyRequest().ToUtf8Json());

        Assert.Equal(
            """{"client_id":"worker-1","hostname":"worker-1.example","user_agent":"app/2.0","feature_negotiation":true,"heartbeat_interval":5000,"output_buffer_size":4096,"output_buffer_timeout":100,"tls_v1":true,"deflate":true,"deflate_level":3,"sample_rate":10,"msg_timeout":90000}""",
            json);
    }

    [Fact]
    public void Defaults_identify_with_short_host_name_and_library_user_agent()
    {
        var request = NsqdConnectionOptions.Default.ToIdentifyRequest();
        var host = System.Net.Dns.GetHostName();

        Assert.Equal(host.Split('.')[0], request.ClientId);
        Assert.Equal(host, request.Hostname);
        Assert.StartsWith("nsqtyped/", request.UserAgent, StringComparison.Ordinal);
        Assert.Equal(30_000, request.HeartbeatInterval);
        Assert.True(request.FeatureNegotiation);
        Assert.Null(request.TlsV1);
        Assert.Null(request.Snappy);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("new\nline")]
    [InlineData("this-topic-name-is-far-too-long-for-nsqd-which-allows-sixty-four-chars")]
    public async Task Invalid_topics_are_rejected_before_any_io(string topic)
    {
        var connection = new NsqdConnection(Unreachable);
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await connection.PublishAsync(topic, new byte[] { 1 }, TestContext.Current.CancellationToken));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await connection.PublishManyAsync(topic, [new byte[] { 1 }], TestContext.Current.CancellationToken));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await connection.PublishDeferredAsync(topic, new byte[] { 1 }, TimeSpan.Zero, TestContext.Current.CancellationToken));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await connection.SubscribeAsync(topic, "channel", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Invalid_channels_are_rejected_before_any_io()
    {
        var connection = new NsqdConnection(Unreachable);
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await connection.SubscribeAsync("topic", "bad channel", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Empty_and_oversized_bodies_are_rejected_before_any_io()
    {
        var connection = new NsqdConnection(Unreachable, NsqdConnectionOptions.Default with { MaxMessageSize = 10, MaxBodySize = 30 });
        var ct = TestContext.Current.CancellationToken;

        await Assert.ThrowsAsync<ArgumentException>(async () => await connection.PublishAsync("t", ReadOnlyMemory<byte>.Empty, ct));
        await Assert.ThrowsAsync<ArgumentException>(async () => await connection.PublishAsync("t", new byte[11], ct));
        await Assert.ThrowsAsync<ArgumentException>(async () => await connection.PublishDeferredAsync("t", new byte[11], TimeSpan.Zero, ct));
        await Assert.ThrowsAsync<ArgumentException>(async () => await connection.PublishManyAsync("t", [], ct));
        await Assert.ThrowsAsync<ArgumentException>(async () => await connection.PublishManyAsync("t", [new byte[1], ReadOnlyMemory<byte>.Empty], ct));

        // 4 (count) + 3 × (4 + 10) = 46 bytes > MaxBodySize 30, although each message fits.
        await Assert.ThrowsAsync<ArgumentException>(async () => await connection.PublishManyAsync("t", [new byte[10], new byte[10], new byte[10]], ct));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await connection.PublishDeferredAsync("t", new byte[1], TimeSpan.FromMilliseconds(-1), ct));
    }

    [Fact]
    public async Task Commands_on_a_connection_that_never_connected_fail_with_a_connection_error()
    {
        var connection = new NsqdConnection(Unreachable);
        var ct = TestContext.Current.CancellationToken;

        var error = await Assert.ThrowsAnyAsync<NsqConnectionException>(async () => await connection.PublishAsync("t", new byte[1], ct));
        Assert.Contains("not connected", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<NsqConnectionException>(async () => await connection.ReadyAsync(1, ct));
        await Assert.ThrowsAnyAsync<NsqConnectionException>(async () => await connection.FinishAsync(default, ct));
    }

    [Fact]
    public async Task Connecting_to_a_closed_port_fails_with_a_connection_error()
    {
        var connection = new NsqdConnection(Unreachable, NsqdConnectionOptions.Default with { ConnectTimeout = TimeSpan.FromSeconds(5) });

        var error = await Assert.ThrowsAsync<NsqConnectionException>(async () => await connection.ConnectAsync(TestContext.Current.CancellationToken));

        Assert.Contains(Unreachable, error.Message, StringComparison.Ordinal);
        Assert.False(connection.IsConnected);
        Assert.True(connection.Completion.IsCompleted);
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task A_connection_connects_only_once()
    {
        var connection = new NsqdConnection(Unreachable);
        await Assert.ThrowsAsync<NsqConnectionException>(async () => await connection.ConnectAsync(TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await connection.ConnectAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Dispose_is_idempotent_and_closes_once()
    {
        var connection = new NsqdConnection(Unreachable);
        await connection.DisposeAsync();
        await connection.DisposeAsync();
        Assert.True(connection.Completion.IsCompleted);
        Assert.Null(connection.CloseReason);
    }

    [Fact]
    public async Task A_second_response_to_a_message_is_an_InvalidOperationException()
    {
        var responder = new RecordingResponder();
        var message = new NsqMessage(NsqMessageId.Parse("0123456789abcdef"), 1, 1_700_000_000_000_000_000, new byte[] { 1 }, responder);

        await message.FinishAsync(TestContext.Current.CancellationToken);

        Assert.True(message.HasResponded);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await message.FinishAsync(TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await message.RequeueAsync(cancellationToken: TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await message.TouchAsync(TestContext.Current.CancellationToken));
        Assert.Equal(["FIN 0123456789abcdef"], responder.Calls);
        Assert.Equal(new DateTimeOffset(2023, 11, 14, 22, 13, 20, TimeSpan.Zero), message.Timestamp);
    }

    private sealed class RecordingResponder : INsqMessageResponder
    {
        public List<string> Calls { get; } = [];

        public ValueTask FinishAsync(NsqMessage message, CancellationToken cancellationToken)
        {
            Calls.Add($"FIN {message.Id}");
            return ValueTask.CompletedTask;
        }

        public ValueTask RequeueAsync(NsqMessage message, TimeSpan delay, bool backoff, CancellationToken cancellationToken)
        {
            Calls.Add($"REQ {message.Id} {delay.TotalMilliseconds}");
            return ValueTask.CompletedTask;
        }

        public ValueTask TouchAsync(NsqMessage message, CancellationToken cancellationToken)
        {
            Calls.Add($"TOUCH {message.Id}");
            return ValueTask.CompletedTask;
        }
    }
}
