using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NsqTyped.Tests.Support;

namespace NsqTyped.Testing.Tests.Tcp;

/// <summary>
/// Scenarios run against the embedded nsqd and a real nsqd v1.3.0 started with the same flags (when its
/// binary is found, see <see cref="RealNsqBinaries"/>; that case skips otherwise), asserting the same
/// observable outcome: behaviour the recorded fixtures do not pin down, where the two once differed or
/// where clients rely on the exact answer.
/// </summary>
public sealed class RealNsqdConformanceTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Servers => ["embedded", "real"];

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task A_pub_refused_as_too_big_resets_the_connection_when_its_body_is_left_unread(string server)
    {
        // nsqd answers after the 4-byte size and closes; 200 kB of body are still unread, so the close is a reset.
        await using var nsqd = await StartAsync(server, "--max-msg-size=100");
        using var socket = await ConnectAsync(nsqd.TcpAddress);
        var body = new byte[200_000];
        var sending = SendQuietlyAsync(socket, [.. "PUB big\n"u8, .. BigEndian(body.Length), .. body]);

        var (type, data) = await ReadFrameAsync(socket);

        Assert.Equal((1, "E_BAD_MESSAGE PUB message too big 200000 > 100"), (type, data));
        var reset = await Assert.ThrowsAsync<SocketException>(async () => await ReadFrameAsync(socket));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        await sending;
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task A_fatal_error_whose_input_was_read_ends_the_connection_cleanly(string server)
    {
        await using var nsqd = await StartAsync(server, "--max-msg-size=100");
        using var socket = await ConnectAsync(nsqd.TcpAddress);
        await socket.SendAsync((byte[])[.. "PUB big\n"u8, .. BigEndian(101), .. new byte[101]], Ct);

        Assert.Equal((1, "E_BAD_MESSAGE PUB message too big 101 > 100"), await ReadFrameAsync(socket));
        Assert.Equal(0, await socket.ReceiveAsync(new byte[1], Ct).AsTask().WaitAsync(Limit, Ct));
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task A_message_requeued_after_rdy_0_goes_to_another_ready_consumer(string server)
    {
        // What a Reader relies on when a handler fails: RDY 0 first, then REQ, so nsqd does not hand the
        // message straight back to the failing consumer.
        await using var nsqd = await StartAsync(server);
        using var failing = await ConnectAsync(nsqd.TcpAddress);
        await failing.SendAsync((byte[])[.. "PUB req0\n"u8, .. BigEndian(5), .. "hello"u8, .. "SUB req0 ch\nRDY 1\n"u8], Ct);
        Assert.Equal((0, "OK"), await ReadFrameAsync(failing));
        Assert.Equal((0, "OK"), await ReadFrameAsync(failing));
        var (type, message) = await ReadFrameRawAsync(failing);
        Assert.Equal(2, type);
        var id = message.AsSpan(10, 16).ToArray();
        using var other = await ConnectAsync(nsqd.TcpAddress);
        await other.SendAsync("SUB req0 ch\nRDY 1\n"u8.ToArray(), Ct);
        Assert.Equal((0, "OK"), await ReadFrameAsync(other));

        await failing.SendAsync((byte[])[.. "RDY 0\nREQ "u8, .. id, .. " 0\n"u8], Ct);

        var (againType, again) = await ReadFrameRawAsync(other);
        Assert.Equal(2, againType);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16BigEndian(again.AsSpan(8)));
        Assert.Equal(id, again.AsSpan(10, 16).ToArray());
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task Deleting_a_channel_closes_its_subscribers(string server)
    {
        await using var nsqd = await StartAsync(server);
        using var socket = await ConnectAsync(nsqd.TcpAddress);
        await socket.SendAsync("SUB gone ch\n"u8.ToArray(), Ct);
        Assert.Equal((0, "OK"), await ReadFrameAsync(socket));

        using var http = new HttpClient();
        using var deleted = await http.PostAsync(new Uri($"http://{nsqd.HttpAddress}/channel/delete?topic=gone&channel=ch"), null, Ct);

        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal(0, await socket.ReceiveAsync(new byte[1], Ct).AsTask().WaitAsync(Limit, Ct));
    }

    private static async Task<TestNsqServer> StartAsync(string server, params string[] flags)
    {
        string[] all = ["--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0", "--broadcast-address=127.0.0.1", .. flags];
        if (server == "embedded")
        {
            return TestNsqServer.Of(await EmbeddedNsqd.StartAsync(EmbeddedNsqdFlags.Parse(all), Ct));
        }

        Assert.SkipWhen(RealNsqBinaries.Nsqd is null, $"No real nsqd binary: set {RealNsqBinaries.DirectoryVariable} or put it in ../shared/realnsq.");
        return TestNsqServer.Of(await RealNsqProcess.StartAsync(RealNsqBinaries.Nsqd!, all, withDataDirectory: true, Ct));
    }

    private static async Task<Socket> ConnectAsync(string address)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPEndPoint.Parse(address), Ct);
        await socket.SendAsync("  V2"u8.ToArray(), Ct);
        return socket;
    }

    private static async Task SendQuietlyAsync(Socket socket, byte[] bytes)
    {
        try
        {
            await socket.SendAsync(bytes, Ct);
        }
        catch (SocketException)
        {
            // The server may reset the connection before every byte is sent.
        }
    }

    private static byte[] BigEndian(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    private static async Task<(int Type, string Data)> ReadFrameAsync(Socket socket)
    {
        var (type, data) = await ReadFrameRawAsync(socket);
        return (type, Encoding.ASCII.GetString(data));
    }

    /// <summary>The next frame that is not a heartbeat.</summary>
    private static async Task<(int Type, byte[] Data)> ReadFrameRawAsync(Socket socket)
    {
        while (true)
        {
            var header = await ReadExactlyAsync(socket, 8);
            var data = await ReadExactlyAsync(socket, BinaryPrimitives.ReadInt32BigEndian(header) - 4);
            var type = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4));
            if (type != 0 || !data.AsSpan().SequenceEqual("_heartbeat_"u8))
            {
                return (type, data);
            }
        }
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        for (var read = 0; read < count;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), Ct).AsTask().WaitAsync(Limit, Ct);
            if (n == 0)
            {
                throw new EndOfStreamException("the server closed the connection");
            }

            read += n;
        }

        return buffer;
    }
}
