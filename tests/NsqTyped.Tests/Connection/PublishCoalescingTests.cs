using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using NsqTyped.Internal;
using NsqTyped.Protocol;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Connection;

/// <summary>
/// Publish coalescing on the wire, against a scripted server: single publishes that wait behind their topic's
/// unacknowledged command go out as one MPUB, in order, within the size limit; one answer completes or fails them all.
/// </summary>
public sealed class PublishCoalescingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_lone_publish_goes_out_at_once_as_PUB()
    {
        await using var server = new ScriptedServer();
        var (connection, stream) = await ConnectAsync(server);
        await using var _ = connection;
        await using var __ = stream;

        var publish = connection.PublishAsync("coalesce.lone", "only"u8.ToArray(), Ct).AsTask();

        var command = await WireCommand.ReadAsync(stream);
        Assert.Equal("PUB coalesce.lone", command.Line);
        Assert.Equal(["only"], command.Messages);
        await stream.WriteAsync(Frame(0, "OK"), Ct);
        await publish.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task Publishes_behind_an_unacknowledged_one_go_out_as_one_MPUB_in_order_and_one_OK_completes_them()
    {
        await using var server = new ScriptedServer();
        var (connection, stream) = await ConnectAsync(server);
        await using var _ = connection;
        await using var __ = stream;

        var first = await FillAsync(connection, stream, "coalesce.order");
        var rest = Enumerable.Range(1, 5).Select(i => connection.PublishAsync("coalesce.order", Encoding.ASCII.GetBytes($"m{i}"), Ct).AsTask()).ToArray();

        await AnswerOkAsync(stream, 1);
        await first[0].WaitAsync(TimeSpan.FromSeconds(5), Ct);
        var batch = await WireCommand.ReadAsync(stream);
        Assert.Equal("MPUB coalesce.order", batch.Line);
        Assert.Equal(["m1", "m2", "m3", "m4", "m5"], batch.Messages);
        Assert.All(rest, t => Assert.False(t.IsCompleted));

        await AnswerOkAsync(stream, first.Length);
        await Task.WhenAll(first.Concat(rest)).WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task An_error_for_a_batch_fails_every_publish_in_it_with_the_same_exception()
    {
        await using var server = new ScriptedServer();
        var (connection, stream) = await ConnectAsync(server);
        await using var _ = connection;
        await using var __ = stream;

        var first = await FillAsync(connection, stream, "coalesce.error");
        var batch = Enumerable.Range(0, 4).Select(_ => connection.PublishAsync("coalesce.error", "b"u8.ToArray(), Ct).AsTask()).ToArray();
        await AnswerOkAsync(stream, 1);
        Assert.Equal(4, (await WireCommand.ReadAsync(stream)).Messages.Count);
        await AnswerOkAsync(stream, first.Length - 1);
        await Task.WhenAll(first).WaitAsync(TimeSpan.FromSeconds(5), Ct);

        await stream.WriteAsync(Frame(1, "E_MPUB_FAILED MPUB failed exiting"), Ct);

        var errors = new List<NsqServerException>();
        foreach (var publish in batch)
        {
            errors.Add(await Assert.ThrowsAsync<NsqServerException>(() => publish.WaitAsync(TimeSpan.FromSeconds(5), Ct)));
        }

        Assert.All(errors, e => Assert.Same(errors[0], e));
        Assert.Equal("E_MPUB_FAILED", errors[0].CodeText);
    }

    [Fact]
    public async Task Batches_stay_within_MaxBodySize_and_keep_the_order()
    {
        await using var server = new ScriptedServer();

        // Each 10-byte message takes 14 bytes of an MPUB body after its 4-byte count: 6 fit in 100 bytes, 7 do not.
        var options = NsqdConnectionOptions.Default with { MaxBodySize = 100 };
        var (connection, stream) = await ConnectAsync(server, options);
        await using var _ = connection;
        await using var __ = stream;

        var bodies = Enumerable.Range(0, 21).Select(i => $"message{i:D3}").ToArray();
        var publishes = bodies.Select(b => connection.PublishAsync("coalesce.size", Encoding.ASCII.GetBytes(b), Ct).AsTask()).ToArray();

        // Written without waiting for any answer: the first publish as PUB, then each batch as soon as it is full.
        const int lone = 1;
        var full = (bodies.Length - lone) / 6;
        var commands = new List<WireCommand>();
        for (var i = 0; i < lone + full; i++)
        {
            commands.Add(await WireCommand.ReadAsync(stream));
        }

        await AnswerOkAsync(stream, lone + full);

        // The rest goes out once the topic has fewer unanswered commands than the limit.
        commands.Add(await WireCommand.ReadAsync(stream));
        await AnswerOkAsync(stream, 1);
        await Task.WhenAll(publishes).WaitAsync(TimeSpan.FromSeconds(5), Ct);

        int[] expected = [.. Enumerable.Repeat(1, lone), .. Enumerable.Repeat(6, full), bodies.Length - lone - (6 * full)];
        Assert.Equal(expected, commands.Select(c => c.Messages.Count));
        Assert.All(commands, c => Assert.True(c.BodySize <= 100, $"MPUB body of {c.BodySize} bytes"));
        Assert.Equal(bodies, commands.SelectMany(c => c.Messages));
    }

    [Fact]
    public async Task A_queue_of_BatchBytes_goes_out_without_an_answer_until_the_topic_has_MaxUnacknowledgedPerTopic_commands_unanswered()
    {
        await using var server = new ScriptedServer();
        var (connection, stream) = await ConnectAsync(server);
        await using var _ = connection;
        await using var __ = stream;

        // 1,000-byte bodies take 1,004 bytes of an MPUB body each: the queue reaches BatchBytes with its 66th.
        var perBatch = (NsqdConnection.BatchBytes + 1003) / 1004;
        var eager = NsqdConnection.MaxUnacknowledgedPerTopic - 1;
        var first = await FillAsync(connection, stream, "coalesce.eager");
        var bodies = Enumerable.Range(0, eager * perBatch).Select(i => Encoding.ASCII.GetBytes(i.ToString("D1000", System.Globalization.CultureInfo.InvariantCulture))).ToArray();
        var batched = bodies.Select(b => connection.PublishAsync("coalesce.eager", b, Ct).AsTask()).ToArray();

        // No answer yet: each full batch went out at once, up to the limit of unanswered commands.
        for (var i = 0; i < eager; i++)
        {
            var batch = await WireCommand.ReadAsync(stream);
            Assert.Equal("MPUB coalesce.eager", batch.Line);
            Assert.Equal(perBatch, batch.Messages.Count);
            Assert.Equal(bodies.Skip(i * perBatch).Take(perBatch).Select(b => Encoding.ASCII.GetString(b)), batch.Messages);
        }

        // At the limit, even a full queue waits: a publish canceled now is still left out of it.
        using var cancel = new CancellationTokenSource();
        var held = Enumerable.Range(0, perBatch).Select(i => connection.PublishAsync("coalesce.eager", bodies[i], Ct).AsTask()).ToArray();
        var canceled = connection.PublishAsync("coalesce.eager", "canceled"u8.ToArray(), cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled.WaitAsync(TimeSpan.FromSeconds(5), Ct));

        await AnswerOkAsync(stream, 1);
        var after = await WireCommand.ReadAsync(stream);
        Assert.Equal(perBatch, after.Messages.Count);
        Assert.DoesNotContain("canceled", after.Messages);
        await AnswerOkAsync(stream, eager + 1);
        await Task.WhenAll(first.Concat(batched).Concat(held)).WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task A_publish_canceled_while_waiting_is_not_sent()
    {
        await using var server = new ScriptedServer();
        var (connection, stream) = await ConnectAsync(server);
        await using var _ = connection;
        await using var __ = stream;

        var first = await FillAsync(connection, stream, "coalesce.cancel");
        using var cancel = new CancellationTokenSource();
        var canceled = connection.PublishAsync("coalesce.cancel", "canceled"u8.ToArray(), cancel.Token).AsTask();
        var kept = connection.PublishAsync("coalesce.cancel", "kept"u8.ToArray(), Ct).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled.WaitAsync(TimeSpan.FromSeconds(5), Ct));

        await AnswerOkAsync(stream, 1);
        var next = await WireCommand.ReadAsync(stream);
        Assert.Equal("PUB coalesce.cancel", next.Line);
        Assert.Equal(["kept"], next.Messages);
        await AnswerOkAsync(stream, first.Length);
        await Task.WhenAll(first.Append(kept)).WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task Sent_and_waiting_publishes_time_out_without_an_answer_and_the_waiting_ones_are_not_sent()
    {
        await using var server = new ScriptedServer();
        var options = NsqdConnectionOptions.Default with { ReadTimeout = TimeSpan.FromMilliseconds(300) };
        var (connection, stream) = await ConnectAsync(server, options);
        await using var _ = connection;
        await using var __ = stream;

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var sent = await FillAsync(connection, stream, "coalesce.timeout");
        var waiting = Enumerable.Range(0, 50).Select(i => connection.PublishAsync("coalesce.timeout", Encoding.ASCII.GetBytes($"w{i}"), Ct).AsTask()).ToArray();

        foreach (var publish in sent.Concat(waiting))
        {
            await Assert.ThrowsAsync<NsqTimeoutException>(() => publish.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        }

        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(290), $"timed out after {clock.Elapsed.TotalMilliseconds:0} ms, before the 300 ms timeout");

        // The late answer goes to the sent PUB; the timed-out waiting publishes were left out, so the next goes alone.
        await AnswerOkAsync(stream, sent.Length);
        var after = connection.PublishAsync("coalesce.timeout", "after"u8.ToArray(), Ct).AsTask();
        var next = await WireCommand.ReadAsync(stream);
        Assert.Equal("PUB coalesce.timeout", next.Line);
        Assert.Equal(["after"], next.Messages);
        await AnswerOkAsync(stream, 1);
        await after.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task Topics_coalesce_separately_and_DPUB_or_MPUB_keeps_the_topic_order()
    {
        await using var server = new ScriptedServer();
        var (connection, stream) = await ConnectAsync(server);
        await using var _ = connection;
        await using var __ = stream;

        // Topic a at its limit of unanswered commands does not hold up topic b.
        var a1 = await FillAsync(connection, stream, "coalesce.a");
        var b1 = await FillAsync(connection, stream, "coalesce.b");

        // a2 and a3 wait; a DPUB of the same topic sends them first, then goes itself (never coalesced).
        var a2 = connection.PublishAsync("coalesce.a", "a2"u8.ToArray(), Ct).AsTask();
        var a3 = connection.PublishAsync("coalesce.a", "a3"u8.ToArray(), Ct).AsTask();
        var a4 = connection.PublishDeferredAsync("coalesce.a", "a4"u8.ToArray(), TimeSpan.FromSeconds(1), Ct).AsTask();
        var batch = await WireCommand.ReadAsync(stream);
        Assert.Equal("MPUB coalesce.a", batch.Line);
        Assert.Equal(["a2", "a3"], batch.Messages);
        var deferred = await WireCommand.ReadAsync(stream);
        Assert.Equal("DPUB coalesce.a 1000", deferred.Line);

        // An explicit MPUB is one command of its own as well.
        var b2 = connection.PublishManyAsync("coalesce.b", ["b2"u8.ToArray(), "b3"u8.ToArray()], Ct).AsTask();
        var many = await WireCommand.ReadAsync(stream);
        Assert.Equal("MPUB coalesce.b", many.Line);
        Assert.Equal(["b2", "b3"], many.Messages);

        await AnswerOkAsync(stream, a1.Length + b1.Length + 3);
        await Task.WhenAll(a1.Concat(b1).Concat([a2, a3, a4, b2])).WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task A_response_that_does_not_answer_the_command_closes_the_connection_with_a_protocol_error()
    {
        await using var server = new ScriptedServer();
        var (connection, stream) = await ConnectAsync(server);
        await using var _ = connection;
        await using var __ = stream;

        var publish = connection.PublishAsync("coalesce.mismatch", "x"u8.ToArray(), Ct).AsTask();
        await WireCommand.ReadAsync(stream);
        await stream.WriteAsync(Frame(0, "CLOSE_WAIT"), Ct);

        var error = await Assert.ThrowsAsync<NsqProtocolException>(() => publish.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.Contains("CLOSE_WAIT", error.Message, StringComparison.Ordinal);
        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.IsType<NsqProtocolException>(connection.CloseReason);
    }

    [Fact]
    public async Task Waiting_publishes_fail_as_never_sent_when_the_connection_drops_and_the_sent_one_as_lost()
    {
        await using var server = new ScriptedServer();
        var (connection, stream) = await ConnectAsync(server);
        await using var _ = connection;

        var sent = await FillAsync(connection, stream, "coalesce.drop");
        var waiting = Enumerable.Range(0, 3).Select(_ => connection.PublishAsync("coalesce.drop", "waiting"u8.ToArray(), Ct).AsTask()).ToArray();
        await stream.DisposeAsync();

        foreach (var written in sent)
        {
            var lost = await Assert.ThrowsAnyAsync<NsqConnectionException>(() => written.WaitAsync(TimeSpan.FromSeconds(5), Ct));
            Assert.IsNotType<NsqNotSentException>(lost);
        }

        foreach (var publish in waiting)
        {
            await Assert.ThrowsAsync<NsqNotSentException>(() => publish.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        }
    }

    [Fact]
    public async Task Disposing_writes_out_queued_FIN_REQ_and_TOUCH_before_the_socket_closes()
    {
        await using var server = new ScriptedServer();
        var (connection, stream) = await ConnectAsync(server);
        await using var __ = stream;
        var id = NsqMessageId.Parse("0123456789abcdef");

        // Queued, then disposed at once: without the flush the socket closes before the write loop runs.
        await connection.TouchAsync(id, Ct);
        await connection.RequeueAsync(id, TimeSpan.FromSeconds(2), cancellationToken: Ct);
        await connection.FinishAsync(id, Ct);
        await connection.DisposeAsync();

        var received = new MemoryStream();
        await stream.CopyToAsync(received, Ct).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal("TOUCH 0123456789abcdef\nREQ 0123456789abcdef 2000\nFIN 0123456789abcdef\n", Encoding.ASCII.GetString(received.ToArray()));
    }

    [Fact]
    public async Task Commands_after_dispose_began_are_refused_as_not_sent()
    {
        await using var server = new ScriptedServer();
        var (connection, stream) = await ConnectAsync(server);
        await using var __ = stream;

        var disposing = connection.DisposeAsync().AsTask();
        await disposing.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        await Assert.ThrowsAsync<NsqNotSentException>(async () => await connection.PublishAsync("coalesce.late", "x"u8.ToArray(), Ct));
    }

    /// <summary>Not the waiting case yet: the first publish of a topic goes out at once as PUB; from then on, publishes of the topic wait for its answer.</summary>
    internal static async Task<Task[]> FillAsync(INsqPublisher publisher, Stream stream, string topic)
    {
        var tasks = new Task[1];
        for (var i = 0; i < tasks.Length; i++)
        {
            tasks[i] = publisher.PublishAsync(topic, Encoding.ASCII.GetBytes($"fill{i}"), Ct).AsTask();
            var command = await WireCommand.ReadAsync(stream);
            Assert.Equal("PUB " + topic, command.Line);
            Assert.Equal([$"fill{i}"], command.Messages);
        }

        return tasks;
    }

    internal static async Task AnswerOkAsync(Stream stream, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await stream.WriteAsync(Frame(0, "OK"), Ct);
        }
    }

    internal static async Task<(NsqdConnection Connection, NetworkStream Stream)> ConnectAsync(ScriptedServer server, NsqdConnectionOptions? options = null)
    {
        var connecting = NsqdConnection.ConnectAsync(server.Address, options, Ct).AsTask();
        var stream = await server.AcceptAsync();
        using (await ScriptedServer.ReadMagicAndIdentifyAsync(stream))
        {
            await stream.WriteAsync(ConformanceFixtures.ServerBytes("identify_feature_negotiation", 3), Ct);
        }

        return (await connecting.WaitAsync(TimeSpan.FromSeconds(5), Ct), stream);
    }

    internal static byte[] Frame(int type, string data)
    {
        var bytes = new byte[8 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 4 + data.Length);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), type);
        Encoding.ASCII.GetBytes(data, bytes.AsSpan(8));
        return bytes;
    }
}

/// <summary>One PUB, MPUB or DPUB as a scripted server reads it off the wire.</summary>
internal sealed record WireCommand(string Line, IReadOnlyList<string> Messages, int BodySize)
{
    public static async Task<WireCommand> ReadAsync(Stream stream)
    {
        var ct = TestContext.Current.CancellationToken;
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            await stream.ReadExactlyAsync(one, ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), ct);
            if (one[0] == '\n')
            {
                break;
            }

            line.Append((char)one[0]);
        }

        var text = line.ToString();
        var body = await ScriptedServer.ReadSizedAsync(stream);
        if (!text.StartsWith("MPUB ", StringComparison.Ordinal))
        {
            return new WireCommand(text, [Encoding.ASCII.GetString(body)], body.Length);
        }

        var count = BinaryPrimitives.ReadInt32BigEndian(body);
        var messages = new List<string>();
        var offset = 4;
        for (var i = 0; i < count; i++)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(offset));
            messages.Add(Encoding.ASCII.GetString(body, offset + 4, length));
            offset += 4 + length;
        }

        Assert.Equal(body.Length, offset);
        return new WireCommand(text, messages, body.Length);
    }
}
