using System.Text;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Connection;

/// <summary>An <see cref="NsqdConnection"/> against nsqd (embedded, or real when NSQD_* is set).</summary>
public sealed class NsqdConnectionTests(NsqTestServers servers)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Connect_negotiates_identify_and_reports_the_server_settings()
    {
        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);

        Assert.True(connection.IsConnected);
        var settings = Assert.IsType<Protocol.NsqIdentifyResponse>(connection.Settings);
        Assert.True(settings.MaxRdyCount > 0);
        Assert.False(string.IsNullOrEmpty(settings.Version));
        Assert.True(settings.MsgTimeout > 0);
        Assert.False(settings.TlsV1);
        Assert.False(settings.Snappy);
        Assert.False(settings.Deflate);
        Assert.False(settings.AuthRequired);
    }

    [Fact]
    public async Task A_caller_that_blocks_once_its_publish_completed_does_not_stop_the_connection_reading()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);

        for (var i = 0; i < 20; i++)
        {
            Assert.True(await PublishThenBlockAsync(connection, topic, i), "the second publish's answer was never read while the first one's caller blocked");
        }
    }

    /// <summary>
    /// Without a captured context, a lone publish's continuation may run on the thread the read loop left. Code
    /// there blocks until the connection has read another answer: the read loop must go on on another thread.
    /// </summary>
    private static async Task<bool> PublishThenBlockAsync(NsqdConnection connection, string topic, int i)
    {
        await connection.PublishAsync(topic, Encoding.ASCII.GetBytes($"first{i}"), Ct).ConfigureAwait(false);
        var next = connection.PublishAsync(topic, Encoding.ASCII.GetBytes($"second{i}"), Ct).AsTask();
#pragma warning disable xUnit1031 // The blocking wait is the point: caller code that blocks in its continuation.
        return next.Wait(TimeSpan.FromSeconds(10), Ct);
#pragma warning restore xUnit1031
    }

    [Fact]
    public async Task Identify_options_are_negotiated()
    {
        var options = NsqdConnectionOptions.Default with
        {
            MsgTimeout = TimeSpan.FromSeconds(42),
            OutputBufferSize = 2048,
            OutputBufferTimeout = TimeSpan.FromMilliseconds(50),
            SampleRate = 50,
        };

        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, options, Ct);

        Assert.Equal(42_000, connection.Settings!.MsgTimeout);
        Assert.Equal(2048, connection.Settings.OutputBufferSize);
        Assert.Equal(50, connection.Settings.OutputBufferTimeout);
        Assert.Equal(50, connection.Settings.SampleRate);
    }

    [Fact]
    public async Task Client_id_hostname_and_user_agent_reach_nsqd()
    {
        var topic = NsqTestServers.UniqueTopic();
        var options = NsqdConnectionOptions.Default with { ClientId = "cid-42", Hostname = "host-42.example", UserAgent = "tests/4.2" };
        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic, options: options);
        using var http = new HttpClient { BaseAddress = servers.NsqdHttpAddress };

        var stats = await http.GetStringAsync($"stats?format=json&topic={topic}", Ct);

        Assert.Contains("\"client_id\":\"cid-42\"", stats, StringComparison.Ordinal);
        Assert.Contains("\"hostname\":\"host-42.example\"", stats, StringComparison.Ordinal);
        Assert.Contains("\"user_agent\":\"tests/4.2\"", stats, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Identify_rejected_by_nsqd_fails_connect_with_the_server_error()
    {
        // Above nsqd's --max-heartbeat-interval (60 s by default): nsqd answers E_BAD_BODY and closes.
        var options = NsqdConnectionOptions.Default with { HeartbeatInterval = TimeSpan.FromMinutes(5) };

        var error = await Assert.ThrowsAsync<NsqServerException>(async () => await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, options, Ct));

        Assert.Equal(NsqErrorCode.BadBody, error.Code);
    }

    [Fact]
    public async Task Published_message_is_delivered_with_its_fields_and_finished()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic);
        var finished = new TaskCompletionSource<NsqFinishedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.Connection.Finished += (_, e) => finished.TrySetResult(e);
        var before = DateTimeOffset.UtcNow;

        await producer.PublishAsync(topic, "hello nsq"u8.ToArray(), Ct);
        var message = await consumer.NextAsync();

        Assert.Equal("hello nsq", Encoding.UTF8.GetString(message.Body.Span));
        Assert.Equal(1, message.Attempts);
        Assert.True(message.Id.IsHex);
        Assert.InRange(message.Timestamp, before.AddSeconds(-5), DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.Equal(1, consumer.Connection.InFlightCount);

        await message.FinishAsync(Ct);

        Assert.True(message.HasResponded);
        Assert.Equal(message.Id, (await finished.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct)).MessageId);
        Assert.Equal(0, consumer.Connection.InFlightCount);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await message.FinishAsync(Ct));
    }

    [Fact]
    public async Task Pipelined_publishes_are_all_acknowledged_in_order()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        const int count = 500;

        var pending = new Task[count];
        var order = new List<int>();
        for (var i = 0; i < count; i++)
        {
            var n = i;
            pending[i] = producer.PublishAsync(topic, Encoding.ASCII.GetBytes($"m{n}"), Ct).AsTask()
                .ContinueWith(_ => { lock (order) { order.Add(n); } }, TaskScheduler.Default);
        }

        await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(20), Ct);

        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic, ready: count);
        var received = new HashSet<string>();
        for (var i = 0; i < count; i++)
        {
            var message = await consumer.NextAsync();
            received.Add(Encoding.ASCII.GetString(message.Body.Span));
            await message.FinishAsync(Ct);
        }

        Assert.Equal(count, received.Count);
        Assert.Equal(count, order.Count);
    }

    [Fact]
    public async Task Mpub_and_dpub_are_acknowledged_and_delivered()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic);

        await producer.PublishManyAsync(topic, ["a"u8.ToArray(), "b"u8.ToArray(), "c"u8.ToArray()], Ct);
        var bodies = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var message = await consumer.NextAsync();
            bodies.Add(Encoding.ASCII.GetString(message.Body.Span));
            await message.FinishAsync(Ct);
        }

        Assert.Equal(["a", "b", "c"], bodies.Order());

        var published = DateTimeOffset.UtcNow;
        await producer.PublishDeferredAsync(topic, "later"u8.ToArray(), TimeSpan.FromMilliseconds(300), Ct);
        var deferred = await consumer.NextAsync();

        Assert.Equal("later", Encoding.ASCII.GetString(deferred.Body.Span));
        Assert.True(DateTimeOffset.UtcNow - published >= TimeSpan.FromMilliseconds(250), "DPUB must delay delivery");
        await deferred.FinishAsync(Ct);
    }

    [Fact]
    public async Task Requeued_message_is_redelivered_with_more_attempts_and_touch_is_accepted()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic);
        var requeued = new TaskCompletionSource<NsqRequeuedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new List<NsqErrorEventArgs>();
        var touched = new TaskCompletionSource<NsqTouchedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.Connection.Requeued += (_, e) => requeued.TrySetResult(e);
        consumer.Connection.Touched += (_, e) => touched.TrySetResult(e);
        consumer.Connection.ErrorReceived += (_, e) => errors.Add(e);

        await producer.PublishAsync(topic, "retry"u8.ToArray(), Ct);
        var first = await consumer.NextAsync();
        await first.TouchAsync(Ct);
        await first.RequeueAsync(TimeSpan.Zero, backoff: true, Ct);
        var second = await consumer.NextAsync();

        Assert.Equal(first.Id, second.Id);
        Assert.Equal(2, second.Attempts);
        var e = await requeued.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal(first.Id, e.MessageId);
        Assert.True(e.Backoff);
        Assert.Equal(first.Id, (await touched.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct)).MessageId);
        Assert.Empty(errors);
        await second.FinishAsync(Ct);
    }

    [Fact]
    public async Task Finishing_an_unknown_message_raises_a_non_fatal_error_and_the_connection_stays_open()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic);
        var error = new TaskCompletionSource<NsqErrorEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.Connection.ErrorReceived += (_, e) => error.TrySetResult(e);

        await consumer.Connection.FinishAsync(Protocol.NsqMessageId.Parse("0000000000000000"), Ct);
        var e = await error.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        Assert.NotNull(e.Error);
        Assert.Same(e.Error, e.Exception);
        Assert.Equal(NsqErrorCode.FinFailed, e.Error.Code);
        Assert.False(e.Error.IsFatal);
        await consumer.Connection.NopAsync(Ct);
        await consumer.Connection.SendCloseAsync(Ct);
        Assert.True(consumer.Connection.IsConnected);
    }

    [Fact]
    public async Task Starved_when_in_flight_reaches_85_percent_of_rdy()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic, ready: 1);

        Assert.False(consumer.Connection.IsStarved);
        await producer.PublishManyAsync(topic, ["1"u8.ToArray(), "2"u8.ToArray()], Ct);
        var message = await consumer.NextAsync();

        Assert.Equal(1, consumer.Connection.LastReadyCount);
        Assert.True(consumer.Connection.IsStarved);
        await message.FinishAsync(Ct);
        var next = await consumer.NextAsync();
        await next.FinishAsync(Ct);
        Assert.False(consumer.Connection.IsStarved);
    }

    [Fact]
    public async Task Cls_is_answered_with_close_wait_and_ends_delivery()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var consumer = await TestConsumer.StartAsync(servers.NsqdTcpAddress, topic);
        var responses = new List<string>();
        consumer.Connection.ResponseReceived += (_, e) => { lock (responses) { responses.Add(e.ToString()); } };

        await consumer.Connection.SendCloseAsync(Ct);

        await NsqTestServers.WaitUntilAsync(() => { lock (responses) { return responses.Contains("CLOSE_WAIT"); } }, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Fatal_server_error_fails_the_call_raises_events_and_closes_the_connection()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        var closed = new TaskCompletionSource<NsqConnectionClosedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new List<NsqErrorEventArgs>();
        connection.Closed += (_, e) => closed.TrySetResult(e);
        connection.ErrorReceived += (_, e) => errors.Add(e);
        await connection.SubscribeAsync(topic, "c", Ct);

        // One SUB per connection: nsqd answers E_INVALID and closes.
        var error = await Assert.ThrowsAsync<NsqServerException>(async () => await connection.SubscribeAsync(topic, "c", Ct));

        Assert.Equal(NsqErrorCode.Invalid, error.Code);
        Assert.True(error.IsFatal);
        var e = await closed.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.False(connection.IsConnected);
        Assert.Same(error, e.Error?.InnerException);
        Assert.Same(error, Assert.Single(errors).Error);
        await Assert.ThrowsAnyAsync<NsqConnectionException>(async () => await connection.PublishAsync(topic, "x"u8.ToArray(), Ct));
    }

    [Fact]
    public async Task Body_larger_than_the_servers_limit_fails_with_E_BAD_MESSAGE()
    {
        await using var nsqd = await servers.StartNsqdAsync(["--max-msg-size=100"], Ct);
        await using var connection = await NsqdConnection.ConnectAsync(nsqd.TcpAddress, cancellationToken: Ct);

        var error = await Assert.ThrowsAsync<NsqServerException>(async () => await connection.PublishAsync("t", new byte[101], Ct));

        Assert.Equal(NsqErrorCode.BadMessage, error.Code);
        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task Publishing_after_sub_is_allowed_as_nsqd_does()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        await connection.SubscribeAsync(topic, "c", Ct);

        await connection.PublishAsync(topic, "from a subscriber"u8.ToArray(), Ct);

        Assert.True(connection.IsConnected);
    }

    /// <summary>Options that believe the server allows 60-day delays, so a 30-day DPUB reaches nsqd (default --max-req-timeout 1 h).</summary>
    internal static NsqdConnectionOptions AllowsLongerDelays => NsqdConnectionOptions.Default with { MaxReqTimeout = TimeSpan.FromDays(60) };

    [Fact]
    public async Task Dpub_beyond_the_servers_max_req_timeout_is_refused_by_nsqd_when_the_client_allows_more()
    {
        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, AllowsLongerDelays, Ct);

        var error = await Assert.ThrowsAsync<NsqServerException>(async () =>
            await connection.PublishDeferredAsync(NsqTestServers.UniqueTopic(), "x"u8.ToArray(), TimeSpan.FromDays(30), Ct));

        Assert.Equal(NsqErrorCode.Invalid, error.Code);
        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task Every_pipelined_publish_behind_a_fatal_error_fails_and_none_hangs()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, AllowsLongerDelays, Ct);

        // The first is refused (defer beyond --max-req-timeout); nsqd closes before answering the rest.
        var publishes = new[] { connection.PublishDeferredAsync(topic, "x"u8.ToArray(), TimeSpan.FromDays(30), Ct).AsTask() }
            .Concat(Enumerable.Range(0, 50).Select(_ => connection.PublishAsync(topic, "x"u8.ToArray(), Ct).AsTask()))
            .ToArray();
        await Task.WhenAll(publishes).ContinueWith(t => _ = t.Exception, TaskScheduler.Default).WaitAsync(TimeSpan.FromSeconds(10), Ct);

        // nsqd writes E_INVALID and closes; with the 50 PUBs still unread it closes with a reset, which can discard
        // the error frame before the client reads it (seen against real nsqd 1.3.0): then the first fails as a
        // connection error too. Either way it fails, with an NSQ exception, and nothing hangs.
        Assert.True(
            publishes[0].Exception?.InnerException is NsqServerException { Code: NsqErrorCode.Invalid } or NsqConnectionException,
            $"the refused DPUB failed with {publishes[0].Exception?.InnerException?.GetType().Name ?? "nothing"}");
        Assert.All(publishes.Skip(1), t => Assert.IsAssignableFrom<NsqConnectionException>(t.Exception?.InnerException));
    }

    [Fact]
    public async Task Disposing_closes_once_and_raises_closed_without_error()
    {
        var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        var closedEvents = 0;
        connection.Closed += (_, e) =>
        {
            Interlocked.Increment(ref closedEvents);
            Assert.Null(e.Error);
        };

        await connection.DisposeAsync();
        await connection.DisposeAsync();

        Assert.Equal(1, closedEvents);
        Assert.False(connection.IsConnected);
        Assert.Null(connection.CloseReason);
    }

    [Fact]
    public async Task Disposing_from_an_event_handler_does_not_deadlock()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        var consumer = new NsqdConnection(servers.NsqdTcpAddress);
        var disposed = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.MessageReceived += (_, _) => disposed.TrySetResult(consumer.DisposeAsync().AsTask());
        await consumer.ConnectAsync(Ct);
        await consumer.SubscribeAsync(topic, "c", Ct);
        await consumer.ReadyAsync(1, Ct);

        await producer.PublishAsync(topic, "x"u8.ToArray(), Ct);

        await (await disposed.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct)).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.False(consumer.IsConnected);
    }

    [Fact]
    public async Task Rdy_above_the_servers_max_is_an_argument_error()
    {
        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await connection.ReadyAsync(connection.Settings!.MaxRdyCount + 1, Ct));
        Assert.True(connection.IsConnected);
    }
}
