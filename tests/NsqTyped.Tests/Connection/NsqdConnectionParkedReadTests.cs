using System.Text;
using Microsoft.Extensions.Logging;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Connection;

/// <summary>
/// A lone publish's caller runs on the read loop's thread before the next read is issued (a parked read), and
/// nothing that caller code does can hold the connection: other threads' commands, a close and the watch issue
/// the read. Against nsqd (embedded, or real when NSQD_* is set).
/// </summary>
public sealed class NsqdConnectionParkedReadTests(NsqTestServers servers)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Each_publish_awaited_one_at_a_time_parks_the_next_read_behind_its_caller()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);

        for (var i = 0; i < 10; i++)
        {
            await connection.PublishAsync(topic, Encoding.ASCII.GetBytes($"m{i}"), Ct);
        }

        Assert.Equal(10, connection.ParkedReads);
    }

    [Fact]
    public async Task A_command_from_another_thread_is_answered_while_a_parked_caller_blocks()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        connection.ParkWatchPeriod = Timeout.InfiniteTimeSpan; // only the other thread's publish may issue the read

        await InFrontOfAParkedReadAsync(connection, topic, async () =>
        {
            var other = Task.Run(() => connection.PublishAsync(topic, "other"u8.ToArray(), Ct).AsTask(), Ct);
            Assert.Same(other, await Task.WhenAny(other, Task.Delay(Bound, Ct)));
            await other;
        });
    }

    [Fact]
    public async Task A_parked_caller_that_blocks_on_its_own_next_publish_is_answered_through_the_watch()
    {
        var topic = NsqTestServers.UniqueTopic();
        var logs = new RecordingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, NsqdConnectionOptions.Default with { LoggerFactory = loggerFactory }, Ct);

        await InFrontOfAParkedReadAsync(connection, topic, () =>
        {
            // The same thread as the parked caller: only the watch can issue the read.
            var next = connection.PublishAsync(topic, "next"u8.ToArray(), Ct).AsTask();
#pragma warning disable xUnit1031 // The blocking wait is the point.
            Assert.True(next.Wait(Bound, Ct), "the answer was never read while its caller blocked in front of the read");
#pragma warning restore xUnit1031
            return Task.CompletedTask;
        }, blockOnThread: true);
        Assert.Equal(1, logs.Count(1013));
    }

    [Fact]
    public async Task A_parked_caller_that_pipelines_has_its_answers_read_while_it_goes_on()
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        connection.ParkWatchPeriod = Timeout.InfiniteTimeSpan; // only the caller's second command may issue the read

        await InFrontOfAParkedReadAsync(connection, topic, () =>
        {
            var first = connection.PublishAsync(topic, "a"u8.ToArray(), Ct).AsTask();
            var second = connection.PublishAsync(topic, "b"u8.ToArray(), Ct).AsTask();
#pragma warning disable xUnit1031 // The blocking wait is the point: the caller goes on without returning.
            Assert.True(Task.WhenAll(first, second).Wait(Bound, Ct), "the answers were not read while the caller in front of the read went on");
#pragma warning restore xUnit1031
            return Task.CompletedTask;
        }, blockOnThread: true);
    }

    [Fact]
    public async Task Disposing_the_connection_from_a_parked_caller_ends_the_read_loop()
    {
        var topic = NsqTestServers.UniqueTopic();
        var connection = await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, cancellationToken: Ct);
        connection.ParkWatchPeriod = Timeout.InfiniteTimeSpan; // only the close may issue the read

        await InFrontOfAParkedReadAsync(connection, topic, () =>
        {
#pragma warning disable xUnit1031 // The blocking wait is the point: the read loop must end without this thread.
            Assert.True(connection.DisposeAsync().AsTask().Wait(Bound, Ct), "DisposeAsync did not complete while the caller in front of the read blocked on it");
#pragma warning restore xUnit1031
            return Task.CompletedTask;
        }, blockOnThread: true);
        Assert.False(connection.IsConnected);
    }

    /// <summary>
    /// Publishes until a publish's caller runs in front of a parked read (nearly always the first one: its await is
    /// registered before nsqd answers), and runs <paramref name="action"/> there: on that very thread when
    /// <paramref name="blockOnThread"/>, else on another thread while the parked caller blocks until it is done.
    /// </summary>
    private static async Task InFrontOfAParkedReadAsync(NsqdConnection connection, string topic, Func<Task> action, bool blockOnThread = false)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            await connection.PublishAsync(topic, "first"u8.ToArray(), Ct).ConfigureAwait(false);
            if (!connection.IsParkedBehindCurrentThread)
            {
                continue; // the await completed at once: this code does not run in front of the read
            }

            if (blockOnThread)
            {
#pragma warning disable xUnit1031 // Blocking the parked thread is the point.
                action().Wait(Ct);
#pragma warning restore xUnit1031
                return;
            }

            using var done = new ManualResetEventSlim();
            var elsewhere = Task.Run(async () =>
            {
                try
                {
                    await action();
                }
                finally
                {
                    done.Set();
                }
            }, Ct);
            done.Wait(Bound + Bound, Ct); // blocks the parked thread: the read stays parked unless someone else issues it
            await elsewhere;
            return;
        }

        Assert.Fail("No publish's caller ran in front of a parked read in 20 attempts.");
    }
}
