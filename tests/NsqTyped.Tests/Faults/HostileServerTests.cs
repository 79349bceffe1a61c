using System.IO.Compression;
using System.Net.Sockets;
using System.Text;
using NsqTyped.Tests.Support;
using Snappier;

namespace NsqTyped.Tests.Faults;

/// <summary>
/// Hostile or corrupt servers: impossible IDENTIFY values close the connection with a protocol exception
/// (and a Reader reconnects); corrupt bytes after a Snappy or Deflate upgrade end the connection with an
/// NSQ exception, never a crash, a hang or an unobserved task exception.
/// </summary>
public sealed class HostileServerTests
{
    private const int FuzzConnections = 150;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("\"max_rdy_count\":-1", "max_rdy_count -1")]
    [InlineData("\"max_rdy_count\":0", "max_rdy_count 0")]
    [InlineData("\"msg_timeout\":-5", "msg_timeout -5")]
    [InlineData("\"sample_rate\":250", "sample_rate 250")]
    public async Task An_impossible_negotiated_value_closes_the_connection_with_a_protocol_exception(string field, string named)
    {
        await using var server = new ScriptedServer();
        var connecting = NsqdConnection.ConnectAsync(server.Address, cancellationToken: Ct).AsTask();
        await using var stream = await server.AcceptAsync();
        await AnswerIdentifyAsync(stream, field);

        var error = await Assert.ThrowsAsync<NsqProtocolException>(() => connecting.WaitAsync(Bound, Ct));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await stream.ReadAsync(new byte[1], Ct).AsTask().WaitAsync(Bound, Ct));
    }

    [Fact]
    public async Task A_reader_given_max_rdy_count_minus_one_closes_that_connection_and_reconnects()
    {
        using var unobserved = new UnobservedTaskExceptions();
        await using var server = new ScriptedServer();
        await using (var reader = new NsqReader(
            new NsqReaderOptions { Topic = "t", Channel = "c", NsqdTcpAddresses = [server.Address], ReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromMilliseconds(200) },
            (_, _) => ValueTask.CompletedTask))
        {
            await reader.StartAsync(Ct);
            for (var attempt = 0; attempt < 3; attempt++)
            {
                // Each attempt is a new connection: the Reader closed the hostile one and dialled again.
                await using var stream = await server.AcceptAsync().WaitAsync(Bound, Ct);
                await AnswerIdentifyAsync(stream, "\"max_rdy_count\":-1");
                Assert.Equal(0, await stream.ReadAsync(new byte[1], Ct).AsTask().WaitAsync(Bound, Ct));
                Assert.Empty(reader.Connections);
            }
        }

        await unobserved.AssertNoneAsync();
    }

    [Theory]
    [InlineData("snappy")]
    [InlineData("deflate")]
    public async Task Corrupt_bytes_after_a_compression_upgrade_end_the_connection_with_an_nsq_exception(string codec)
    {
        using var unobserved = new UnobservedTaskExceptions();
        var random = new Random(1313);
        var clean = Compress(codec, Corpus());
        var outcomes = new Dictionary<string, int>();
        await using var server = new ScriptedServer();
        var options = codec == "snappy" ? NsqdConnectionOptions.Default with { Snappy = true } : NsqdConnectionOptions.Default with { Deflate = true, DeflateLevel = 1 };
        var fixture = codec == "snappy" ? "snappy_upgrade" : "deflate_level_1";

        for (var i = 0; i < FuzzConnections; i++)
        {
            var connecting = NsqdConnection.ConnectAsync(server.Address, options, Ct).AsTask();
            using (var stream = await server.AcceptAsync())
            {
                using var identify = await ScriptedServer.ReadMagicAndIdentifyAsync(stream);
                await stream.WriteAsync(ConformanceFixtures.ServerBytes(fixture, 3), Ct);
                await stream.WriteAsync(ConformanceFixtures.ServerBytes(fixture, 5), Ct);
                await using var connection = await connecting.WaitAsync(Bound, Ct);

                await stream.WriteAsync(Mutate(random, clean), Ct);
                stream.Socket.Shutdown(SocketShutdown.Send);

                // Whatever the bytes decode to, the connection ends (here: at the latest when the server's FIN arrives).
                await connection.Completion.WaitAsync(Bound, Ct);
                var reason = connection.CloseReason;
                Assert.True(reason is null or NsqException, $"iteration {i}: closed by {reason}");
                var key = reason is null ? "none" : reason.GetType().Name + "/" + reason.InnerException?.GetType().Name;
                outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
            }
        }

        // The mutations must reach the decoder's error paths (InvalidDataException inside) and the frame parser's.
        var summary = "outcomes: " + string.Join(", ", outcomes.Select(o => $"{o.Key}={o.Value}"));
        Assert.True(outcomes.Keys.Any(k => k.EndsWith("/InvalidDataException", StringComparison.Ordinal)), summary);
        Assert.True(outcomes.Keys.Any(k => k.StartsWith("NsqProtocolException", StringComparison.Ordinal)), summary);
        await unobserved.AssertNoneAsync();
    }

    private static async Task AnswerIdentifyAsync(NetworkStream stream, string field)
    {
        using var identify = await ScriptedServer.ReadMagicAndIdentifyAsync(stream);
        var json = $"{{\"max_rdy_count\":2500,\"version\":\"1.3.0\",\"max_msg_timeout\":900000,\"msg_timeout\":60000,\"tls_v1\":false,\"deflate\":false,\"deflate_level\":6,\"max_deflate_level\":6,\"snappy\":false,\"sample_rate\":0,\"auth_required\":false,\"output_buffer_size\":16384,\"output_buffer_timeout\":250,{field}}}";
        await stream.WriteAsync(Frame(0, Encoding.UTF8.GetBytes(json)), Ct);
    }

    /// <summary>Frames a real nsqd sends after SUB: responses, heartbeats, errors and messages.</summary>
    private static byte[] Corpus()
    {
        var message = new byte[8 + 2 + 16 + 5];
        message[9] = 1;
        "0123456789abcdef"u8.CopyTo(message.AsSpan(10));
        "hello"u8.CopyTo(message.AsSpan(26));
        return [.. Frame(0, "OK"u8.ToArray()), .. Frame(0, "_heartbeat_"u8.ToArray()), .. Frame(2, message), .. Frame(1, "E_FIN_FAILED FIN failed"u8.ToArray()), .. Frame(2, message)];
    }

    private static byte[] Frame(int type, byte[] data)
    {
        var frame = new byte[8 + data.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame, 4 + data.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), type);
        data.CopyTo(frame, 8);
        return frame;
    }

    private static byte[] Compress(string codec, byte[] plain)
    {
        using var output = new MemoryStream();
        Stream compressor = codec == "snappy"
            ? new SnappyStream(output, CompressionMode.Compress, leaveOpen: true)
            : new DeflateStream(output, CompressionLevel.Fastest, leaveOpen: true);
        compressor.Write(plain);
        compressor.Flush();
        var bytes = output.ToArray();
        compressor.Dispose();
        return bytes;
    }

    /// <summary>Flips, overwrites, truncates, duplicates or appends random bytes; sometimes sends pure noise.</summary>
    private static byte[] Mutate(Random random, byte[] clean)
    {
        var bytes = new List<byte>(clean);
        switch (random.Next(6))
        {
            case 0:
                return [.. Enumerable.Range(0, random.Next(1, 200)).Select(_ => (byte)random.Next(256))];
            case 1:
                var cut = random.Next(bytes.Count);
                bytes.RemoveRange(cut, bytes.Count - cut);
                break;
            case 2:
                bytes.InsertRange(random.Next(bytes.Count), clean.Take(random.Next(1, clean.Length)));
                break;
        }

        for (var flips = random.Next(0, 4); flips > 0 && bytes.Count > 0; flips--)
        {
            var at = random.Next(bytes.Count);
            bytes[at] = random.Next(2) == 0 ? (byte)(bytes[at] ^ (1 << random.Next(8))) : (byte)random.Next(256);
        }

        return [.. bytes];
    }
}
