using System.Buffers.Binary;
using System.Text;
using NsqTyped.Internal;
using NsqTyped.Protocol;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Connection;

/// <summary>The connection's one in-flight ledger, and what the connection does with it.</summary>
public sealed class InFlightLedgerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private long _now = 1_000;

    private static NsqMessageId Id(int n)
    {
        var bytes = new byte[16];
        Encoding.ASCII.GetBytes(n.ToString("D16", System.Globalization.CultureInfo.InvariantCulture), bytes);
        return NsqMessageId.Read(bytes);
    }

    private InFlightLedger NewLedger(TimeSpan timeout) => new(() => _now) { Timeout = timeout };

    [Fact]
    public void Counts_deliveries_until_they_are_answered_and_a_redelivery_is_not_counted_twice()
    {
        var ledger = NewLedger(TimeSpan.FromSeconds(60));

        Assert.Equal(1, ledger.Add(Id(1)));
        Assert.Equal(2, ledger.Add(Id(2)));
        Assert.Equal(2, ledger.Add(Id(2)));
        Assert.True(ledger.Remove(Id(1)));
        Assert.False(ledger.Remove(Id(1)));

        Assert.Equal(1, ledger.Count);
    }

    [Fact]
    public void An_unanswered_message_stops_counting_at_msg_timeout_unless_touched()
    {
        var ledger = NewLedger(TimeSpan.FromSeconds(60));
        ledger.Add(Id(1));
        _now += 30_000;
        ledger.Add(Id(2));
        _now += 20_000;
        ledger.Touch(Id(1));

        _now += 39_999;
        Assert.Equal(2, ledger.Count);
        _now += 1;
        Assert.Equal(1, ledger.Count);
        _now += 20_000;
        Assert.Equal(0, ledger.Count);
    }

    [Fact]
    public void Last_activity_is_the_last_delivery_or_answer()
    {
        var ledger = NewLedger(TimeSpan.FromSeconds(60));
        Assert.Equal(0, ledger.LastActivity);
        ledger.Add(Id(1));
        Assert.Equal(1_000, ledger.LastActivity);
        _now = 5_000;
        ledger.Remove(Id(1));
        Assert.Equal(5_000, ledger.LastActivity);
    }

    [Fact]
    public async Task Waiting_for_empty_ends_on_the_last_answer_or_on_clear()
    {
        var ledger = NewLedger(TimeSpan.FromSeconds(60));
        ledger.Add(Id(1));
        ledger.Add(Id(2));
        var waiting = ledger.WaitEmptyAsync(Ct);
        ledger.Remove(Id(1));
        Assert.False(waiting.IsCompleted);
        ledger.Remove(Id(2));
        await waiting.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        ledger.Add(Id(3));
        var second = ledger.WaitEmptyAsync(Ct);
        ledger.Clear();
        await second.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task Waiting_for_empty_ends_when_the_entries_expire()
    {
        var ledger = new InFlightLedger { Timeout = TimeSpan.FromMilliseconds(200) };
        ledger.Add(Id(1));

        await ledger.WaitEmptyAsync(Ct).WaitAsync(TimeSpan.FromSeconds(5), Ct);

        Assert.Equal(0, ledger.Count);
    }

    [Fact]
    public void Entries_within_the_grace_of_their_timeout_are_not_certainly_held_so_a_refill_nsqd_made_at_its_timeout_is_no_violation()
    {
        var ledger = NewLedger(TimeSpan.FromSeconds(60));
        var grace = TimeSpan.FromSeconds(2);
        ledger.Add(Id(1));
        _now += 57_000;
        ledger.Add(Id(2));
        Assert.Equal(2, ledger.CountCertainlyHeld(grace));

        // 58.5 s after id 1 arrived nsqd (whose clock started when it sent it) may have taken it back and
        // sent id 3 into the freed slot; the ledger still lists id 1 until 60 s.
        _now += 1_500;
        Assert.Equal(3, ledger.Add(Id(3)));
        Assert.Equal(2, ledger.CountCertainlyHeld(grace));

        // A TOUCH restarts the clock: id 1 is certainly held again.
        ledger.Touch(Id(1));
        Assert.Equal(3, ledger.CountCertainlyHeld(grace));
    }

    [Theory]
    [InlineData(60_000, 2_000)]
    [InlineData(1_000, 500)]
    public void The_ceiling_grace_is_two_seconds_at_most_half_the_timeout(int timeoutMs, int graceMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(graceMs), NsqdConnection.CeilingGrace(TimeSpan.FromMilliseconds(timeoutMs)));

    [Fact]
    public async Task Messages_beyond_every_rdy_sent_are_a_protocol_violation_that_closes_the_connection()
    {
        await using var server = new ScriptedServer();
        var connecting = NsqdConnection.ConnectAsync(server.Address, cancellationToken: Ct).AsTask();
        await using var stream = await server.AcceptAsync();
        using var identify = await ScriptedServer.ReadMagicAndIdentifyAsync(stream);
        await stream.WriteAsync(ConformanceFixtures.ServerBytes("identify_feature_negotiation", 3), Ct);
        await using var connection = await connecting.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        var received = 0;
        connection.MessageReceived += (_, _) => Interlocked.Increment(ref received);
        await connection.ReadyAsync(2, Ct);
        var rdy = new byte["RDY 2\n".Length];
        await stream.ReadExactlyAsync(rdy, Ct);

        await stream.WriteAsync(MessageFrame(Id(1)), Ct);
        await stream.WriteAsync(MessageFrame(Id(2)), Ct);
        await NsqTestServers.WaitUntilAsync(() => Volatile.Read(ref received) == 2, TimeSpan.FromSeconds(5), "two messages within RDY 2");
        Assert.True(connection.IsConnected);
        Assert.Equal(2, connection.InFlightCount);
        Assert.True(connection.IsStarved);

        await stream.WriteAsync(MessageFrame(Id(3)), Ct);

        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        var error = Assert.IsType<NsqProtocolException>(connection.CloseReason);
        Assert.Contains("RDY", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, Volatile.Read(ref received));
        Assert.Equal(0, connection.InFlightCount);
    }

    private static byte[] MessageFrame(NsqMessageId id)
    {
        var body = "x"u8;
        var frame = new byte[4 + 4 + 8 + 2 + 16 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, frame.Length - 4);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), 2);
        BinaryPrimitives.WriteInt64BigEndian(frame.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), 1);
        id.CopyTo(frame.AsSpan(18));
        body.CopyTo(frame.AsSpan(34));
        return frame;
    }
}
