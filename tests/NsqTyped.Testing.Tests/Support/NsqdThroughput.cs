using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NsqTyped.Protocol;

namespace NsqTyped.Testing.Tests.Support;

/// <summary>
/// Raw-socket load generator in the spirit of nsq's bench_writer/bench_reader, written with the
/// protocol core: MPUB batches in, then RDY 2500 with a FIN for every message, FINs of one read
/// batched into one write. Measures what the server sustains, not a client library.
/// </summary>
internal static class NsqdThroughput
{
    public sealed record Result(long Messages, TimeSpan Elapsed, double CpuSeconds)
    {
        public double PerSecond => Messages / Elapsed.TotalSeconds;

        public double CpuSecondsPerMillion => CpuSeconds / Messages * 1_000_000;

        public override string ToString() =>
            $"{Messages:N0} messages in {Elapsed.TotalSeconds:F2} s = {PerSecond:N0} msg/s ({CpuSecondsPerMillion:F1} CPU-s per million, whole process)";
    }

    /// <summary>Publishes <paramref name="batches"/> MPUBs (PUBs when the batch size is 1) of <paramref name="batchSize"/> × <paramref name="bodySize"/> bytes, keeping <paramref name="window"/> unacknowledged.</summary>
    public static async Task<Result> PublishAsync(IPEndPoint endPoint, string topic, int batches, int batchSize = 200, int bodySize = 200, int window = 16, CancellationToken cancellationToken = default)
    {
        using var socket = await ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
        var command = new ArrayBufferWriter<byte>();
        var body = new byte[bodySize];
        Array.Fill(body, (byte)'x');
        var messages = Enumerable.Repeat<ReadOnlyMemory<byte>>(body, batchSize).ToArray();
        if (batchSize == 1)
        {
            NsqCommandWriter.WritePub(command, topic, body);
        }
        else
        {
            NsqCommandWriter.WriteMpub(command, topic, messages);
        }

        var bytes = command.WrittenMemory;

        var start = Stopwatch.GetTimestamp();
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        var sent = 0;
        var acknowledged = 0;
        var buffer = new byte[64 * 1024];
        var filled = 0;
        while (sent < Math.Min(window, batches))
        {
            await socket.SendAsync(bytes, cancellationToken).ConfigureAwait(false);
            sent++;
        }

        while (acknowledged < batches)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("nsqd closed the publisher connection.");
            }

            filled += n;
            var sequence = new ReadOnlySequence<byte>(buffer, 0, filled);
            var newlyAcknowledged = 0;
            while (NsqFrameReader.TryReadFrame(ref sequence, out var frame))
            {
                if (!frame.IsOk)
                {
                    throw frame.ToServerException();
                }

                newlyAcknowledged++;
            }

            var consumed = filled - (int)sequence.Length;
            Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
            filled -= consumed;
            acknowledged += newlyAcknowledged;
            var more = Math.Min(newlyAcknowledged, batches - sent);
            for (var i = 0; i < more; i++)
            {
                await socket.SendAsync(bytes, cancellationToken).ConfigureAwait(false);
                sent++;
            }
        }

        return new Result((long)batches * batchSize, Stopwatch.GetElapsedTime(start), (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds);
    }

    /// <summary>Subscribes with RDY <paramref name="rdy"/> and FINs every message until <paramref name="expected"/> arrived.</summary>
    public static async Task<Result> ConsumeAsync(IPEndPoint endPoint, string topic, string channel, long expected, int rdy = 2500, CancellationToken cancellationToken = default)
    {
        using var socket = await ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
        var commands = new ArrayBufferWriter<byte>(64 * 1024);
        NsqCommandWriter.WriteSub(commands, topic, channel);
        NsqCommandWriter.WriteRdy(commands, rdy);
        await socket.SendAsync(commands.WrittenMemory, cancellationToken).ConfigureAwait(false);
        commands.ResetWrittenCount();

        var start = Stopwatch.GetTimestamp();
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        long received = 0;
        var buffer = new byte[1024 * 1024];
        var filled = 0;
        while (received < expected)
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
            if (commands.WrittenCount > 0)
            {
                await socket.SendAsync(commands.WrittenMemory, cancellationToken).ConfigureAwait(false);
                commands.ResetWrittenCount();
            }
        }

        return new Result(received, Stopwatch.GetElapsedTime(start), (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds);
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
        var magic = new ArrayBufferWriter<byte>();
        NsqCommandWriter.WriteMagic(magic);
        await socket.SendAsync(magic.WrittenMemory, cancellationToken).ConfigureAwait(false);
        return socket;
    }
}
