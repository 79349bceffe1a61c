using System.Diagnostics;
using System.Text;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Producer;

/// <summary><see cref="NsqProducer"/>: acknowledged publishing, reconnect, failover, policies and idle survival.</summary>
public sealed class NsqProducerTests(NsqTestServers servers)
{
    // Nothing listens there: connecting is refused at once.
    private readonly string Unreachable = NsqTestServers.UnusedTcpAddress();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static NsqProducerOptions Fast => NsqProducerOptions.Default with
    {
        ReconnectBaseDelay = TimeSpan.FromMilliseconds(20),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(200),
    };

    [Fact]
    public async Task Publishes_are_acknowledged_and_delivered()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = new NsqProducer(servers.NsqdTcpAddress, Fast);
        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic);

        await producer.PublishAsync(topic, "one"u8.ToArray(), Ct);
        await producer.PublishManyAsync(topic, ["two"u8.ToArray(), "three"u8.ToArray()], Ct);
        await producer.PublishDeferredAsync(topic, "four"u8.ToArray(), TimeSpan.FromMilliseconds(50), Ct);

        var bodies = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var message = await consumer.NextAsync();
            bodies.Add(Encoding.ASCII.GetString(message.Body.Span));
            await message.FinishAsync(Ct);
        }

        Assert.Equal(["four", "one", "three", "two"], bodies.Order());
        Assert.True(producer.IsConnected);
    }

    [Fact]
    public async Task Many_concurrent_publishes_over_a_pool_all_complete()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = new NsqProducer(servers.NsqdTcpAddress, Fast with { ConnectionsPerNode = 3 });
        await producer.ConnectAsync(Ct);

        await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => producer.PublishAsync(topic, BitConverter.GetBytes(i), Ct).AsTask()))
            .WaitAsync(TimeSpan.FromSeconds(20), Ct);

        await NsqTestServers.WaitUntilAsync(() => producer.ConnectedCount == 3, TimeSpan.FromSeconds(5), "three pooled connections");
    }

    [Fact]
    public async Task Idle_producer_survives_heartbeats_and_the_next_publish_is_acknowledged()
    {
        // gnsq#12: a producer that never read lost the first publish after an idle minute.
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        var topic = NsqTestServers.UniqueTopic();
        var options = Fast with { Connection = NsqdConnectionOptions.Default with { HeartbeatInterval = TimeSpan.FromSeconds(1) } };
        await using var producer = new NsqProducer(proxy.Address, options);
        await producer.PublishAsync(topic, "before"u8.ToArray(), Ct);
        var connection = Assert.Single(producer.Connections);
        var sent = proxy.BytesFromClient;

        // Idle for three heartbeat intervals (nsqd closes unanswered connections after two).
        await NsqTestServers.WaitUntilAsync(() => proxy.BytesFromClient - sent >= 12, TimeSpan.FromSeconds(6), "three NOPs");
        await producer.PublishAsync(topic, "after"u8.ToArray(), Ct);

        Assert.Same(connection, Assert.Single(producer.Connections));
        Assert.Equal(1, proxy.AcceptedCount);
        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic);
        var bodies = new[] { await consumer.NextAsync(), await consumer.NextAsync() }.Select(m => Encoding.ASCII.GetString(m.Body.Span));
        Assert.Equal(["after", "before"], bodies.Order());
    }

    [Fact]
    public async Task Reconnects_after_the_connection_is_cut()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = new NsqProducer(proxy.Address, Fast);
        await producer.PublishAsync(topic, "1"u8.ToArray(), Ct);

        proxy.Cut();
        await NsqTestServers.WaitUntilAsync(() => proxy.AcceptedCount == 2 && producer.IsConnected, TimeSpan.FromSeconds(5), "a new connection");
        await producer.PublishAsync(topic, "2"u8.ToArray(), Ct);
    }

    [Fact]
    public async Task Publish_waits_for_a_reconnect_under_the_wait_policy()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        await using var producer = new NsqProducer(proxy.Address, Fast with { ReconnectBaseDelay = TimeSpan.FromMilliseconds(300), ReconnectMaxDelay = TimeSpan.FromMilliseconds(300) });
        await producer.ConnectAsync(Ct);
        var first = Assert.Single(producer.Connections);

        proxy.Cut();
        await first.Completion.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        await producer.PublishAsync(NsqTestServers.UniqueTopic(), "x"u8.ToArray(), Ct);

        Assert.Equal(2, proxy.AcceptedCount);
        Assert.NotSame(first, Assert.Single(producer.Connections));
    }

    [Fact]
    public async Task Fails_over_to_a_reachable_nsqd()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = new NsqProducer([Unreachable, servers.NsqdTcpAddress], Fast);

        for (var i = 0; i < 10; i++)
        {
            await producer.PublishAsync(topic, "x"u8.ToArray(), Ct);
        }

        Assert.All(producer.Connections, c => Assert.Equal(servers.NsqdTcpAddress, c.Address));
    }

    [Fact]
    public async Task Keeps_publishing_through_the_remaining_nsqd_when_one_stops()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var doomed = await servers.StartNsqdAsync(cancellationToken: Ct);
        await using var producer = new NsqProducer([doomed.TcpAddress, servers.NsqdTcpAddress], Fast);
        await producer.ConnectAsync(Ct);
        await NsqTestServers.WaitUntilAsync(() => producer.ConnectedCount == 2, TimeSpan.FromSeconds(5), "both nsqd connected");

        await doomed.DisposeAsync();
        await NsqTestServers.WaitUntilAsync(() => producer.ConnectedCount == 1, TimeSpan.FromSeconds(5), "the stopped nsqd noticed");
        for (var i = 0; i < 10; i++)
        {
            await producer.PublishAsync(topic, "x"u8.ToArray(), Ct);
        }

        Assert.Equal(servers.NsqdTcpAddress, Assert.Single(producer.Connections).Address);
    }

    [Fact]
    public async Task Fail_fast_policy_throws_at_once_without_a_connection()
    {
        await using var producer = new NsqProducer(Unreachable, Fast with { DisconnectedPolicy = NsqDisconnectedPolicy.FailFast });
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<NsqConnectionException>(async () => await producer.PublishAsync("t", "x"u8.ToArray(), Ct));

        Assert.Contains("FailFast", error.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Wait_policy_gives_up_after_its_timeout_with_the_last_connect_error()
    {
        await using var producer = new NsqProducer(Unreachable, Fast with { DisconnectedWaitTimeout = TimeSpan.FromMilliseconds(500) });
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<NsqConnectionException>(async () => await producer.PublishAsync("t", "x"u8.ToArray(), Ct));

        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(450), TimeSpan.FromSeconds(5));
        Assert.IsType<NsqConnectionException>(error.InnerException);
    }

    [Fact]
    public async Task Publish_whose_connection_dies_in_flight_throws_instead_of_being_lost()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        await using var producer = new NsqProducer(proxy.Address, Fast);
        await producer.ConnectAsync(Ct);
        proxy.PauseServerToClient();

        var publish = producer.PublishAsync(NsqTestServers.UniqueTopic(), "x"u8.ToArray(), Ct).AsTask();
        await NsqTestServers.WaitUntilAsync(() => proxy.BytesFromClient > 0, TimeSpan.FromSeconds(5), "the PUB reached the server");
        proxy.Cut();

        await Assert.ThrowsAnyAsync<NsqConnectionException>(() => publish.WaitAsync(TimeSpan.FromSeconds(5), Ct));
    }

    [Fact]
    public async Task Publish_times_out_after_the_publish_timeout()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        await using var producer = new NsqProducer(proxy.Address, Fast with { PublishTimeout = TimeSpan.FromMilliseconds(300) });
        await producer.ConnectAsync(Ct);
        proxy.PauseServerToClient();

        await Assert.ThrowsAsync<NsqTimeoutException>(async () => await producer.PublishAsync(NsqTestServers.UniqueTopic(), "x"u8.ToArray(), Ct));
        proxy.ResumeServerToClient();
    }

    [Fact]
    public async Task Publish_observes_its_cancellation_token()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        await using var producer = new NsqProducer(proxy.Address, Fast);
        await producer.ConnectAsync(Ct);
        proxy.PauseServerToClient();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await producer.PublishAsync(NsqTestServers.UniqueTopic(), "x"u8.ToArray(), cancel.Token));
        proxy.ResumeServerToClient();
    }

    [Fact]
    public async Task Server_error_is_thrown_and_the_producer_reconnects()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = new NsqProducer(servers.NsqdTcpAddress, Fast with { Connection = Fast.Connection with { MaxReqTimeout = TimeSpan.FromDays(60) } });

        // Beyond nsqd's --max-req-timeout (1 h by default), which the client was told is longer: E_INVALID, and nsqd closes the connection.
        var error = await Assert.ThrowsAsync<NsqServerException>(async () => await producer.PublishDeferredAsync(topic, "x"u8.ToArray(), TimeSpan.FromDays(2), Ct));
        Assert.Equal(NsqErrorCode.Invalid, error.Code);

        await producer.PublishAsync(topic, "after the error"u8.ToArray(), Ct);
    }

    [Fact]
    public async Task Bad_arguments_fail_before_any_connection_is_made()
    {
        await using var producer = new NsqProducer(Unreachable, Fast);

        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await producer.PublishAsync("bad topic", "x"u8.ToArray(), Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await producer.PublishAsync("t", ReadOnlyMemory<byte>.Empty, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await producer.PublishAsync("t", new byte[NsqdConnectionOptions.Default.MaxMessageSize + 1], Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await producer.PublishManyAsync("t", [], Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await producer.PublishDeferredAsync("t", "x"u8.ToArray(), TimeSpan.FromSeconds(-1), Ct));
        Assert.False(producer.IsConnected);
    }

    [Fact]
    public void Constructor_rejects_missing_addresses_and_invalid_options()
    {
        Assert.ThrowsAny<ArgumentException>(() => new NsqProducer(Array.Empty<string>()));
        Assert.ThrowsAny<ArgumentException>(() => new NsqProducer([""]));
        Assert.ThrowsAny<ArgumentException>(() => new NsqProducer(Unreachable, NsqProducerOptions.Default with { ConnectionsPerNode = 0 }));
        Assert.ThrowsAny<ArgumentException>(() => new NsqProducer(Unreachable, NsqProducerOptions.Default with { PublishTimeout = TimeSpan.Zero }));
        Assert.ThrowsAny<ArgumentException>(() => new NsqProducer(Unreachable, NsqProducerOptions.Default with { Connection = NsqdConnectionOptions.Default with { SampleRate = 100 } }));
    }

    [Fact]
    public async Task Dispose_is_idempotent_and_later_publishes_throw()
    {
        var producer = new NsqProducer(servers.NsqdTcpAddress, Fast);
        await producer.ConnectAsync(Ct);
        var connection = Assert.Single(producer.Connections);

        await producer.DisposeAsync();
        await producer.DisposeAsync();

        Assert.False(connection.IsConnected);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await producer.PublishAsync("t", "x"u8.ToArray(), Ct));
    }
}
