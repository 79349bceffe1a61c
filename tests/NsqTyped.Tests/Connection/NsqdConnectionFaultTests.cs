using System.Diagnostics;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Connection;

/// <summary>Dead links, cut connections, malformed frames, timeouts and cancellation, through <see cref="FaultProxy"/>.</summary>
public sealed class NsqdConnectionFaultTests(NsqTestServers servers)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Heartbeats_are_answered_with_nop_and_keep_the_connection_open()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        var options = NsqdConnectionOptions.Default with { HeartbeatInterval = TimeSpan.FromSeconds(1) };
        await using var connection = await NsqdConnection.ConnectAsync(proxy.Address, options, Ct);
        var sent = proxy.BytesFromClient;

        // Three heartbeats answered: 3 × "NOP\n" and nothing else, since the connection is idle.
        await NsqTestServers.WaitUntilAsync(() => proxy.BytesFromClient - sent >= 12, TimeSpan.FromSeconds(6), "three NOPs");

        Assert.True(connection.IsConnected);
        await connection.PublishAsync(NsqTestServers.UniqueTopic(), "still alive"u8.ToArray(), Ct);
    }

    [Fact]
    public async Task Watchdog_closes_a_connection_that_receives_nothing_for_two_heartbeat_intervals()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        var options = NsqdConnectionOptions.Default with { HeartbeatInterval = TimeSpan.FromSeconds(1), ReadTimeout = Timeout.InfiniteTimeSpan };
        await using var connection = await NsqdConnection.ConnectAsync(proxy.Address, options, Ct);
        var clock = Stopwatch.StartNew();

        proxy.Blackhole();
        var publish = connection.PublishAsync(NsqTestServers.UniqueTopic(), "lost"u8.ToArray(), Ct).AsTask();
        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(6), Ct);

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(4));
        var reason = Assert.IsType<NsqConnectionException>(connection.CloseReason);
        Assert.Contains("heartbeat", reason.Message, StringComparison.Ordinal);
        var error = await Assert.ThrowsAnyAsync<NsqConnectionException>(() => publish);
        Assert.Same(reason, error);
    }

    [Fact]
    public async Task Cut_connection_fails_every_pending_publish_and_none_hangs()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        await using var connection = await NsqdConnection.ConnectAsync(proxy.Address, cancellationToken: Ct);
        var closed = new TaskCompletionSource<NsqConnectionClosedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.Closed += (_, e) => closed.TrySetResult(e);
        var topic = NsqTestServers.UniqueTopic();

        proxy.PauseServerToClient();
        var before = proxy.BytesFromClient;

        // The first goes out as PUB; the other 99 wait behind its unanswered acknowledgement (coalescing).
        var publishes = Enumerable.Range(0, 100).Select(_ => connection.PublishAsync(topic, "x"u8.ToArray(), Ct).AsTask()).ToArray();
        await NsqTestServers.WaitUntilAsync(() => proxy.BytesFromClient >= before + 10, TimeSpan.FromSeconds(5), "the first publish reached the server");
        proxy.Cut();

        await Task.WhenAll(publishes).ContinueWith(t => _ = t.Exception, TaskScheduler.Default).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.All(publishes, t => Assert.IsAssignableFrom<NsqConnectionException>(t.Exception?.InnerException));
        Assert.NotNull((await closed.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct)).Error);
        Assert.False(connection.IsConnected);
    }

    [Fact]
    public async Task Malformed_frame_closes_the_connection_with_a_protocol_error()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        await using var connection = await NsqdConnection.ConnectAsync(proxy.Address, cancellationToken: Ct);
        proxy.PauseServerToClient();
        var publish = connection.PublishAsync(NsqTestServers.UniqueTopic(), "x"u8.ToArray(), Ct).AsTask();

        // size 8, frame type 7: there is no frame type 7.
        await proxy.InjectToClientsAsync([0, 0, 0, 8, 0, 0, 0, 7, 1, 2, 3, 4]);
        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        Assert.IsType<NsqProtocolException>(connection.CloseReason);
        var error = await Assert.ThrowsAnyAsync<NsqConnectionException>(() => publish);
        Assert.IsType<NsqProtocolException>(error.InnerException);
        proxy.ResumeServerToClient();
    }

    [Fact]
    public async Task Oversized_frame_is_rejected_before_its_body_arrives()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        var options = NsqdConnectionOptions.Default with { MaxReadMessageSize = 1000 };
        await using var connection = await NsqdConnection.ConnectAsync(proxy.Address, options, Ct);

        // A response frame announcing 16 MiB, only its header sent: the client must not wait for the rest.
        // (A message frame above the limit is read past and given up instead: NsqReaderTooLargeMessageTests.)
        await proxy.InjectToClientsAsync([1, 0, 0, 0, 0, 0, 0, 0]);
        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        Assert.IsType<NsqProtocolException>(connection.CloseReason);
    }

    [Fact]
    public async Task Publish_times_out_when_no_acknowledgement_arrives()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        var options = NsqdConnectionOptions.Default with { ReadTimeout = TimeSpan.FromMilliseconds(300) };
        await using var connection = await NsqdConnection.ConnectAsync(proxy.Address, options, Ct);
        proxy.PauseServerToClient();

        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAsync<NsqTimeoutException>(async () => await connection.PublishAsync(NsqTestServers.UniqueTopic(), "x"u8.ToArray(), Ct));

        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3));
        proxy.ResumeServerToClient();
    }

    [Fact]
    public async Task Canceled_publish_keeps_its_slot_so_later_responses_stay_aligned()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        await using var connection = await NsqdConnection.ConnectAsync(proxy.Address, NsqdConnectionTests.AllowsLongerDelays, Ct);
        var topic = NsqTestServers.UniqueTopic();
        proxy.PauseServerToClient();

        using var cancel = new CancellationTokenSource();
        var canceled = connection.PublishAsync(topic, "a"u8.ToArray(), cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled);

        // nsqd answers: OK (the canceled PUB), OK (B), E_INVALID (DPUB beyond --max-req-timeout).
        // Had the canceled PUB given up its slot, B would take its OK and the DPUB would take B's.
        var accepted = connection.PublishAsync(topic, "b"u8.ToArray(), Ct).AsTask();
        var rejected = connection.PublishDeferredAsync(topic, "c"u8.ToArray(), TimeSpan.FromDays(30), Ct).AsTask();
        proxy.ResumeServerToClient();

        await accepted.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        var error = await Assert.ThrowsAsync<NsqServerException>(() => rejected);
        Assert.Equal(NsqErrorCode.Invalid, error.Code);
    }

    [Fact]
    public async Task Disposing_fails_pending_publishes_with_a_connection_error()
    {
        await using var proxy = FaultProxy.Start(servers.NsqdTcpAddress);
        var connection = await NsqdConnection.ConnectAsync(proxy.Address, cancellationToken: Ct);
        proxy.PauseServerToClient();
        var publish = connection.PublishAsync(NsqTestServers.UniqueTopic(), "x"u8.ToArray(), Ct).AsTask();

        await connection.DisposeAsync();

        await Assert.ThrowsAnyAsync<NsqConnectionException>(() => publish.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        proxy.ResumeServerToClient();
    }
}
