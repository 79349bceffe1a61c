using System.Buffers;
using System.Net.Sockets;
using NsqTyped.Protocol;

namespace NsqTyped.Benchmarks.Throughput;

/// <summary>
/// The limit each library workload is divided by: a bare socket with the protocol core (frame reader,
/// command writer) and no client library, in the spirit of nsq's bench_reader/bench_writer. Commands that
/// become due in one read are written with one send.
/// </summary>
internal static class RawNsqClient
{
    private const int ReceiveBufferSize = 1024 * 1024;

    /// <summary>
    /// Publishes <paramref name="count"/> messages as MPUBs of <paramref name="batchSize"/> (the last may be
    /// smaller), keeping <paramref name="window"/> unacknowledged. Also the consume workloads' prefill.
    /// </summary>
    public static async Task PublishBatchesAsync(string address, string topic, long count, ReadOnlyMemory<byte> body, int batchSize, int window, CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(address, cancellationToken).ConfigureAwait(false);
        var full = new ArrayBufferWriter<byte>();
        NsqCommandWriter.WriteMpub(full, topic, Enumerable.Repeat(body, batchSize).ToArray());
        var batches = (count + batchSize - 1) / batchSize;
        var lastSize = (int)(count - ((batches - 1) * batchSize));
        var last = new ArrayBufferWriter<byte>();
        NsqCommandWriter.WriteMpub(last, topic, Enumerable.Repeat(body, lastSize).ToArray());

        var pending = new ArrayBufferWriter<byte>(full.WrittenCount * Math.Min(window, 4));
        long sent = 0;
        long acknowledged = 0;
        void Queue(long howMany)
        {
            for (long i = 0; i < howMany; i++)
            {
                pending.Write((sent == batches - 1 ? last : full).WrittenSpan);
                sent++;
            }
        }

        Queue(Math.Min(window, batches));
        await FlushAsync(socket, pending, cancellationToken).ConfigureAwait(false);
        var reader = new FrameBuffer();
        while (acknowledged < batches)
        {
            var ok = await reader.ReadOksAsync(socket, cancellationToken).ConfigureAwait(false);
            acknowledged += ok;
            Queue(Math.Min(ok, batches - sent));
            await FlushAsync(socket, pending, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Publishes <paramref name="count"/> PUBs, keeping up to <paramref name="window"/> unacknowledged (1: one at a time).</summary>
    public static async Task PublishAsync(string address, string topic, long count, ReadOnlyMemory<byte> body, int window, CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(address, cancellationToken).ConfigureAwait(false);
        var one = new ArrayBufferWriter<byte>();
        NsqCommandWriter.WritePub(one, topic, body.Span);
        var pending = new ArrayBufferWriter<byte>(one.WrittenCount * Math.Min(window, 1024));
        long sent = 0;
        long acknowledged = 0;
        void Queue(long howMany)
        {
            for (long i = 0; i < howMany; i++)
            {
                pending.Write(one.WrittenSpan);
            }

            sent += howMany;
        }

        Queue(Math.Min(window, count));
        await FlushAsync(socket, pending, cancellationToken).ConfigureAwait(false);
        var reader = new FrameBuffer();
        while (acknowledged < count)
        {
            var ok = await reader.ReadOksAsync(socket, cancellationToken).ConfigureAwait(false);
            acknowledged += ok;
            Queue(Math.Min(ok, count - sent));
            await FlushAsync(socket, pending, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Subscribes with RDY <paramref name="rdy"/> and FINs every message until <paramref name="count"/> arrived.</summary>
    public static async Task ConsumeAsync(string address, string topic, string channel, long count, int rdy, CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(address, cancellationToken).ConfigureAwait(false);
        var commands = new ArrayBufferWriter<byte>(64 * 1024);
        NsqCommandWriter.WriteSub(commands, topic, channel);
        NsqCommandWriter.WriteRdy(commands, rdy);
        await FlushAsync(socket, commands, cancellationToken).ConfigureAwait(false);

        long received = 0;
        var buffer = new byte[ReceiveBufferSize];
        var filled = 0;
        while (received < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("nsqd closed the consumer connection.");
            }

            filled += n;
            var sequence = new ReadOnlySequence<byte>(buffer, 0, filled);
            while (NsqFrameReader.TryReadFrame(ref sequence, out var frame))
            {
                switch (frame.Type)
                {
                    case NsqFrameType.Message:
                        NsqCommandWriter.WriteFin(commands, frame.AsMessage().Id);
                        received++;
                        break;
                    case NsqFrameType.Error:
                        throw frame.ToServerException();
                    default:
                        if (frame.IsHeartbeat)
                        {
                            NsqCommandWriter.WriteNop(commands);
                        }

                        break;
                }
            }

            var consumed = filled - (int)sequence.Length;
            Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
            filled -= consumed;
            await FlushAsync(socket, commands, cancellationToken).ConfigureAwait(false);
        }

        // The last FINs are out; close cleanly so nsqd does not requeue anything.
        NsqCommandWriter.WriteCls(commands);
        await FlushAsync(socket, commands, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Socket> ConnectAsync(string address, CancellationToken cancellationToken)
    {
        var colon = address.LastIndexOf(':');
        var host = address[..colon].Trim('[', ']');
        var port = int.Parse(address[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            var magic = new ArrayBufferWriter<byte>();
            NsqCommandWriter.WriteMagic(magic);
            await FlushAsync(socket, magic, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async ValueTask FlushAsync(Socket socket, ArrayBufferWriter<byte> pending, CancellationToken cancellationToken)
    {
        if (pending.WrittenCount == 0)
        {
            return;
        }

        var memory = pending.WrittenMemory;
        while (!memory.IsEmpty)
        {
            var n = await socket.SendAsync(memory, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            memory = memory[n..];
        }

        pending.ResetWrittenCount();
    }

    /// <summary>A receive buffer that counts OK responses (publish acknowledgements).</summary>
    private sealed class FrameBuffer
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _filled;

        /// <summary>Reads once and returns how many OK frames arrived (at least one read's worth; may be 0 for a heartbeat).</summary>
        public async ValueTask<long> ReadOksAsync(Socket socket, CancellationToken cancellationToken)
        {
            var n = await socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("nsqd closed the publisher connection.");
            }

            _filled += n;
            var sequence = new ReadOnlySequence<byte>(_buffer, 0, _filled);
            long ok = 0;
            while (NsqFrameReader.TryReadFrame(ref sequence, out var frame))
            {
                if (frame.IsOk)
                {
                    ok++;
                }
                else if (frame.Type == NsqFrameType.Error)
                {
                    throw frame.ToServerException();
                }
                else if (frame.IsHeartbeat)
                {
                    // nsqd closes a client that misses two heartbeats; answer like any client.
                    var nop = new ArrayBufferWriter<byte>();
                    NsqCommandWriter.WriteNop(nop);
                    await FlushAsync(socket, nop, cancellationToken).ConfigureAwait(false);
                }
            }

            var consumed = _filled - (int)sequence.Length;
            Buffer.BlockCopy(_buffer, consumed, _buffer, 0, _filled - consumed);
            _filled -= consumed;
            return ok;
        }
    }
}
