using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using NsqTyped.Tests.Support;
using Snappier;

namespace NsqTyped.Tests.Connection;

/// <summary>
/// The connection against bytes recorded from a real nsqd v1.3.0 (tests/conformance/tcp): what the client
/// sends, and whether it understands nsqd's Snappy and Deflate streams byte for byte.
/// </summary>
public sealed class NsqdConnectionWireTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Snappy_upgrade_reads_real_nsqd_bytes_and_sends_snappy_framed_commands()
    {
        await using var server = new ScriptedServer();
        var options = NsqdConnectionOptions.Default with { Snappy = true };
        var connecting = NsqdConnection.ConnectAsync(server.Address, options, Ct).AsTask();
        await using var stream = await server.AcceptAsync();

        using var identify = await ScriptedServer.ReadMagicAndIdentifyAsync(stream);
        Assert.True(identify.RootElement.GetProperty("snappy").GetBoolean());
        Assert.True(identify.RootElement.GetProperty("feature_negotiation").GetBoolean());
        await stream.WriteAsync(ConformanceFixtures.ServerBytes("snappy_upgrade", 3), Ct);
        await stream.WriteAsync(ConformanceFixtures.ServerBytes("snappy_upgrade", 5), Ct);
        await using var connection = await connecting.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        Assert.True(connection.Settings!.Snappy);
        var publish = connection.PublishAsync("conf.snappy", "hello snappy"u8.ToArray(), Ct).AsTask();
        await using var decompressor = new SnappyStream(stream, CompressionMode.Decompress, leaveOpen: true);
        await AssertCommandAsync(decompressor, "PUB conf.snappy\n", "hello snappy");
        await stream.WriteAsync(ConformanceFixtures.ServerBytes("snappy_upgrade", 6), Ct);
        await publish.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task Deflate_upgrade_reads_real_nsqd_bytes_and_sends_raw_deflate_commands()
    {
        await using var server = new ScriptedServer();
        var options = NsqdConnectionOptions.Default with { Deflate = true, DeflateLevel = 1 };
        var connecting = NsqdConnection.ConnectAsync(server.Address, options, Ct).AsTask();
        await using var stream = await server.AcceptAsync();

        using var identify = await ScriptedServer.ReadMagicAndIdentifyAsync(stream);
        Assert.True(identify.RootElement.GetProperty("deflate").GetBoolean());
        Assert.Equal(1, identify.RootElement.GetProperty("deflate_level").GetInt32());
        await stream.WriteAsync(ConformanceFixtures.ServerBytes("deflate_level_1", 3), Ct);
        await stream.WriteAsync(ConformanceFixtures.ServerBytes("deflate_level_1", 5), Ct);
        await using var connection = await connecting.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        Assert.Equal(1, connection.Settings!.DeflateLevel);
        var publish = connection.PublishAsync("conf.deflate1", "level one"u8.ToArray(), Ct).AsTask();
        await using var decompressor = new DeflateStream(stream, CompressionMode.Decompress, leaveOpen: true);
        await AssertCommandAsync(decompressor, "PUB conf.deflate1\n", "level one");
        await stream.WriteAsync(ConformanceFixtures.ServerBytes("deflate_level_1", 6), Ct);
        await publish.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task Heartbeat_is_answered_with_nop_on_the_wire()
    {
        await using var server = new ScriptedServer();
        var connecting = NsqdConnection.ConnectAsync(server.Address, cancellationToken: Ct).AsTask();
        await using var stream = await server.AcceptAsync();
        using var identify = await ScriptedServer.ReadMagicAndIdentifyAsync(stream);
        await stream.WriteAsync(ConformanceFixtures.ServerBytes("identify_feature_negotiation", 3), Ct);
        await using var connection = await connecting.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        await stream.WriteAsync(Frame(0, "_heartbeat_"), Ct);
        var nop = new byte[4];
        await stream.ReadExactlyAsync(nop, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), Ct);

        Assert.Equal("NOP\n", Encoding.ASCII.GetString(nop));
    }

    [Fact]
    public async Task Identify_rejection_is_the_servers_error()
    {
        await using var server = new ScriptedServer();
        var connecting = NsqdConnection.ConnectAsync(server.Address, cancellationToken: Ct).AsTask();
        await using var stream = await server.AcceptAsync();
        using var identify = await ScriptedServer.ReadMagicAndIdentifyAsync(stream);

        await stream.WriteAsync(Frame(1, "E_BAD_BODY IDENTIFY heartbeat interval (60001) is invalid"), Ct);

        var error = await Assert.ThrowsAsync<NsqServerException>(() => connecting.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.Equal(NsqErrorCode.BadBody, error.Code);
        Assert.Equal("IDENTIFY heartbeat interval (60001) is invalid", error.Description);
    }

    [Fact]
    public async Task A_handshake_that_never_answers_times_out()
    {
        await using var server = new ScriptedServer();
        var options = NsqdConnectionOptions.Default with { ConnectTimeout = TimeSpan.FromMilliseconds(300) };
        var connecting = NsqdConnection.ConnectAsync(server.Address, options, Ct).AsTask();
        await using var stream = await server.AcceptAsync();

        await Assert.ThrowsAsync<NsqTimeoutException>(() => connecting.WaitAsync(TimeSpan.FromSeconds(5), Ct));
    }

    private static async Task AssertCommandAsync(Stream stream, string line, string body)
    {
        var expectedLine = Encoding.ASCII.GetBytes(line);
        var received = new byte[expectedLine.Length];
        await stream.ReadExactlyAsync(received, Ct);
        Assert.Equal(line, Encoding.ASCII.GetString(received));
        Assert.Equal(body, Encoding.ASCII.GetString(await ScriptedServer.ReadSizedAsync(stream)));
    }

    private static byte[] Frame(int type, string data)
    {
        var bytes = new byte[8 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 4 + data.Length);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), type);
        Encoding.ASCII.GetBytes(data, bytes.AsSpan(8));
        return bytes;
    }
}
