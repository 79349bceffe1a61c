using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using NsqTyped.Protocol;

namespace NsqTyped.Testing.Tests.Support;

/// <summary>A received frame (copied out of the receive buffer).</summary>
internal sealed record RawFrame(NsqFrameType Type, byte[] Data)
{
    public string Text => Encoding.UTF8.GetString(Data);

    public NsqMessageId Id => NsqMessageId.Read(Data.AsSpan(10, 16));

    public ushort Attempts => BinaryPrimitives.ReadUInt16BigEndian(Data.AsSpan(8));

    public string Body => Encoding.UTF8.GetString(Data.AsSpan(26));

    public override string ToString() => Type == NsqFrameType.Message ? $"message {Id} attempts {Attempts} '{Body}'" : $"{Type} '{Text}'";
}

/// <summary>
/// A minimal protocol-V2 client for behaviour tests: commands written with the protocol core's
/// <see cref="NsqCommandWriter"/>, frames parsed with <see cref="NsqFrameReader"/>, heartbeats skipped.
/// </summary>
internal sealed class RawNsqClient : IAsyncDisposable
{
    private static readonly TimeSpan s_defaultTimeout = TimeSpan.FromSeconds(5);
    private readonly ReplayConnection _connection;

    private RawNsqClient(ReplayConnection connection) => _connection = connection;

    public bool IsClosed => _connection.IsClosed;

    /// <summary>Connects, sends the magic and (unless <paramref name="identify"/> is null) IDENTIFY, and checks the OK.</summary>
    public static async Task<RawNsqClient> ConnectAsync(EmbeddedNsqd nsqd, object? identify = null)
    {
        var client = new RawNsqClient(await ReplayConnection.ConnectAsync(nsqd.TcpEndPoint, TestContext.Current.CancellationToken));
        await client.SendAsync(NsqCommandWriter.WriteMagic);
        if (identify is not null)
        {
            var json = JsonSerializer.SerializeToUtf8Bytes(identify);
            await client.SendAsync(w => NsqCommandWriter.WriteIdentify(w, json));
            await client.ExpectOkAsync();
        }

        return client;
    }

    /// <summary>Switches both directions to Snappy or Deflate (after an IDENTIFY that granted it).</summary>
    public void StartCompression(string compression) => _connection.StartCompression(compression);

    /// <summary>Runs the TLS handshake (after an IDENTIFY that granted tls_v1).</summary>
    public Task StartTlsAsync(System.Security.Cryptography.X509Certificates.X509Certificate2? clientCertificate) =>
        _connection.StartTlsAsync(clientCertificate, TestContext.Current.CancellationToken);

    public async Task SendAsync(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        await _connection.SendAsync(buffer.WrittenSpan.ToArray(), TestContext.Current.CancellationToken);
    }

    public Task PublishAsync(string topic, string body) => SendAsync(w => NsqCommandWriter.WritePub(w, topic, Encoding.UTF8.GetBytes(body)));

    public Task SubscribeAsync(string topic, string channel) => SendAsync(w => NsqCommandWriter.WriteSub(w, topic, channel));

    public Task ReadyAsync(long count) => SendAsync(w => NsqCommandWriter.WriteRdy(w, count));

    public Task FinishAsync(NsqMessageId id) => SendAsync(w => NsqCommandWriter.WriteFin(w, id));

    public Task TouchAsync(NsqMessageId id) => SendAsync(w => NsqCommandWriter.WriteTouch(w, id));

    public async Task ExpectOkAsync()
    {
        var frame = await ReadFrameAsync();
        Assert.True(frame.Type == NsqFrameType.Response && frame.Text == "OK", $"expected OK, got {frame}");
    }

    public async Task<RawFrame> ReadMessageAsync(TimeSpan? timeout = null)
    {
        var frame = await ReadFrameAsync(timeout);
        Assert.True(frame.Type == NsqFrameType.Message, $"expected a message, got {frame}");
        return frame;
    }

    public async Task<RawFrame> ReadFrameAsync(TimeSpan? timeout = null) =>
        await TryReadFrameAsync(timeout ?? s_defaultTimeout) ?? throw new TimeoutException("No frame arrived in time.");

    /// <summary>The next non-heartbeat frame, or null when none arrived within <paramref name="timeout"/>.</summary>
    public async Task<RawFrame?> TryReadFrameAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var queue = _connection.Top;
        while (true)
        {
            var bytes = queue.Snapshot();
            var sequence = new ReadOnlySequence<byte>(bytes);
            if (NsqFrameReader.TryReadFrame(ref sequence, out var frame, int.MaxValue))
            {
                var result = new RawFrame(frame.Type, frame.Data.ToArray());
                queue.Take(bytes.Length - (int)sequence.Length);
                if (frame.IsHeartbeat)
                {
                    continue;
                }

                return result;
            }

            var remaining = deadline - DateTime.UtcNow;
            if (queue.IsEnded || remaining <= TimeSpan.Zero)
            {
                return null;
            }

            await queue.WaitChangedAsync(remaining, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Waits until the server closed the connection.</summary>
    public async Task<bool> WaitClosedAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!_connection.Raw.IsEnded)
        {
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                return false;
            }

            await _connection.Raw.WaitChangedAsync(remaining, TestContext.Current.CancellationToken);
        }

        return true;
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}

/// <summary>Polls a condition until it holds or the timeout passes (no bare sleeps in tests).</summary>
internal static class Eventually
{
    public static async Task<bool> TrueAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(5));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        return true;
    }
}

/// <summary>A clock that can be moved forward for expiry tests; timers still run on real time.</summary>
internal sealed class AdjustableTimeProvider : TimeProvider
{
    private long _offsetTicks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));

    public override long GetTimestamp() =>
        System.GetTimestamp() + (long)(Interlocked.Read(ref _offsetTicks) * (double)System.TimestampFrequency / TimeSpan.TicksPerSecond);

    public override long TimestampFrequency => System.TimestampFrequency;
}
