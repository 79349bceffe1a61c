using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using NsqTyped.Diagnostics;
using NsqTyped.Tests.Support;
using static NsqTyped.Tests.Reader.ReaderTestKit;

namespace NsqTyped.Tests.Reader;

/// <summary>
/// A message above the client's read limit (<see cref="NsqdConnectionOptions.MaxReadMessageSize"/>) that nsqd
/// accepted (its <c>--max-msg-size</c> is larger): read past without being buffered and given up once, while the
/// connection stays open and its other messages keep flowing. Against an nsqd started with its own flags: a real
/// one when the run uses real servers, the embedded one otherwise.
/// </summary>
public sealed class NsqReaderTooLargeMessageTests(NsqTestServers servers)
{
    private const int ServerLimit = 64 * 1024;
    private const int ReadLimit = 1000;
    private const int BigSize = 20_000;

    private readonly string _topic = NsqTestServers.UniqueTopic("big");
    private readonly string _channel = NsqTestServers.UniqueChannel("ch");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Reader_gives_up_a_message_above_its_read_limit_once_and_keeps_the_connection()
    {
        await using var nsqd = await servers.StartNsqdAsync(["--max-msg-size=" + ServerLimit], Ct);
        await PublishAroundBigOneAsync(nsqd.TcpAddress);

        var handled = new ConcurrentQueue<string>();
        var givenUp = new ConcurrentQueue<NsqGivingUpEventArgs>();
        var removed = 0;
        using var poison = new PoisonCounter(_topic);
        await using var reader = new NsqReader(
            Fast(_topic, _channel) with
            {
                NsqdTcpAddresses = [nsqd.TcpAddress],
                MaxInFlight = 5,
                DeadLetterTopic = _topic + "-dead",
                Connection = NsqdConnectionOptions.Default with { MaxReadMessageSize = ReadLimit, HeartbeatInterval = TimeSpan.FromSeconds(5) },
            },
            (m, _) =>
            {
                handled.Enqueue(Text(m));
                return ValueTask.CompletedTask;
            });
        reader.GivingUp += (_, e) => givenUp.Enqueue(e);
        reader.SessionRemoved += _ => Interlocked.Increment(ref removed);
        await reader.StartAsync(Ct);

        await WaitUntilAsync(() => handled.Count == 20 && givenUp.Count == 1, "the small messages handled, the big one given up");
        await WaitUntilAsync(
            async () => await ChannelStatsAsync(nsqd.HttpAddress, _topic, _channel) is { Depth: 0, InFlightCount: 0 },
            "everything finished on the server");

        var stats = await ChannelStatsAsync(nsqd.HttpAddress, _topic, _channel);
        Assert.Equal(21, stats!.MessageCount);
        Assert.Equal(0, stats.RequeueCount);
        Assert.Equal(0, stats.TimeoutCount);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"s{i}").Order(), handled.Order());

        var e = Assert.Single(givenUp);
        var reason = Assert.IsType<NsqMessageTooLargeException>(e.Reason);
        Assert.Equal(BigSize, reason.BodySize);
        Assert.Equal(ReadLimit, reason.Limit);
        Assert.Contains("too large", reason.Message, StringComparison.Ordinal);
        Assert.Equal(1, e.Message.Attempts);
        Assert.True(e.Message.Body.IsEmpty);
        Assert.Equal(1, poison.Count);

        // The body was never held: nothing is dead-lettered. And the one connection was never closed.
        Assert.Null(await ChannelStatsAsync(nsqd.HttpAddress, _topic + "-dead", _channel));
        Assert.Equal(0, Volatile.Read(ref removed));
        Assert.Single(reader.Connections);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_bare_connection_finishes_a_message_above_its_read_limit_and_delivers_the_others(bool snappy)
    {
        await using var nsqd = await servers.StartNsqdAsync(["--max-msg-size=" + ServerLimit], Ct);
        await PublishAroundBigOneAsync(nsqd.TcpAddress);

        var received = new ConcurrentQueue<string>();
        var options = NsqdConnectionOptions.Default with { MaxReadMessageSize = ReadLimit, Snappy = snappy };
        await using var connection = new NsqdConnection(nsqd.TcpAddress, options);
        connection.MessageReceived += async (_, e) =>
        {
            received.Enqueue(Text(e.Message));
            await e.Message.FinishAsync();
        };
        await connection.ConnectAsync(Ct);
        await connection.SubscribeAsync(_topic, _channel, Ct);
        await connection.ReadyAsync(5, Ct);

        await WaitUntilAsync(() => received.Count == 20, "the small messages delivered");
        await WaitUntilAsync(
            async () => await ChannelStatsAsync(nsqd.HttpAddress, _topic, _channel) is { Depth: 0, InFlightCount: 0 },
            "the big one finished too");

        Assert.True(connection.IsConnected);
        var stats = await ChannelStatsAsync(nsqd.HttpAddress, _topic, _channel);
        Assert.Equal(0, stats!.RequeueCount);
        Assert.Equal(0, stats.TimeoutCount);
        Assert.DoesNotContain(received, body => body.Length > ReadLimit);
    }

    /// <summary>Ten small messages, one body of <see cref="BigSize"/> bytes (above the read limit, below nsqd's), ten more.</summary>
    private async Task PublishAroundBigOneAsync(string tcpAddress)
    {
        await using var producer = await NsqdConnection.ConnectAsync(tcpAddress, NsqdConnectionOptions.Default with { MaxMessageSize = ServerLimit }, Ct);
        for (var i = 0; i < 10; i++)
        {
            await producer.PublishAsync(_topic, System.Text.Encoding.UTF8.GetBytes($"s{i}"), Ct);
        }

        await producer.PublishAsync(_topic, new byte[BigSize], Ct);
        for (var i = 10; i < 20; i++)
        {
            await producer.PublishAsync(_topic, System.Text.Encoding.UTF8.GetBytes($"s{i}"), Ct);
        }
    }

    /// <summary>Counts this topic's poison messages in the NsqTyped meter.</summary>
    private sealed class PoisonCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly string _topic;
        private long _count;

        public PoisonCounter(string topic)
        {
            _topic = topic;
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == NsqTypedTelemetry.MeterName && instrument.Name == "messaging.nsq.client.poison.messages")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "messaging.destination.name" && Equals(tag.Value, _topic))
                    {
                        Interlocked.Add(ref _count, value);
                    }
                }
            });
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }
}
