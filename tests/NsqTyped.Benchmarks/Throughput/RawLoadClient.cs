using System.Buffers;
using System.Net.Sockets;
using NsqTyped.Protocol;

namespace NsqTyped.Benchmarks.Throughput;

/// <summary>
/// The limit each library workload is divided by: a bare socket with the protocol core (frame reader,
/// command writer) and no client library, in the spirit of nsq's bench_reader/bench_writer. The read loop
/// parses a whole receive and queues the commands it calls for (FINs, the next PUBs) as one send, which
/// never makes the next receive wait.
/// </summary>
internal static class RawLoadClient
{
    /// <summary>
    /// Publishes <paramref name="count"/> messages as MPUBs of <paramref name="batchSize"/> (the last may be
    /// smaller), keeping <paramref name="window"/> unacknowledged. Also the consume workloads' prefill.
    /// </summary>
    public static Task PublishBatchesAsync(string address, string topic, long count, ReadOnlyMemory<byte> body, int batchSize, int window, CancellationToken cancellationToken)
    {
        var full = new ArrayBufferWriter<byte>();
        NsqCommandWriter.WriteMpub(full, topic, Enumerable.Repeat(body, batchSize).ToArray());
        var batches = (count + batchSize - 1) / batchSize;
        var last = new ArrayBufferWriter<byte>();
        NsqCommandWriter.WriteMpub(last, topic, Enumerable.Repeat(body, (int)(count - ((batches - 1) * batchSize))).ToArray());
        return PublishCommandsAsync(address, batches, window, i => i == batches - 1 ? last.WrittenMemory : full.WrittenMemory, cancellationToken);
    }

    /// <summary>Publishes <paramref name="count"/> PUBs, keeping up to <paramref name="window"/> unacknowledged (1: one at a time).</summary>
    public static Task PublishAsync(string address, string topic, long count, ReadOnlyMemory<byte> body, int window, CancellationToken cancellationToken)
    {
        var one = new ArrayBufferWriter<byte>();
        NsqCommandWriter.WritePub(one, topic, body.Span);
        return PublishCommandsAsync(address, count, window, _ => one.WrittenMemory, cancellationToken);
    }

    /// <summary>
    /// Subscribes with RDY <paramref name="rdy"/> and FINs every message until <paramref name="count"/> arrived;
    /// calls <paramref name="mark"/> once <paramref name="markAt"/> arrived.
    /// </summary>
    public static async Task ConsumeAsync(string address, string topic, string channel, long count, int rdy, long markAt, Action mark, CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(address, cancellationToken).ConfigureAwait(false);
        var sender = new Sender(socket, cancellationToken);
        sender.Queue(w =>
        {
            NsqCommandWriter.WriteSub(w, topic, channel);
            NsqCommandWriter.WriteRdy(w, rdy);
        });

        long received = 0;
        var receiver = new Receiver();
        while (received < count)
        {
            // Awaited here, not in a helper: an async helper would box its state machine on every pending receive.
            var n = await socket.ReceiveAsync(receiver.Free, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            var frames = receiver.Received(n);
            var fins = sender.Begin();
            while (frames.Next(out var frame))
            {
                switch (frame.Type)
                {
                    case NsqFrameType.Message:
                        NsqCommandWriter.WriteFin(fins, frame.AsMessage().Id);
                        if (++received == markAt)
                        {
                            mark();
                        }

                        break;
                    case NsqFrameType.Error:
                        sender.End();
                        throw frame.ToServerException();
                    default:
                        if (frame.IsHeartbeat)
                        {
                            NsqCommandWriter.WriteNop(fins);
                        }

                        break;
                }
            }

            sender.End();
            receiver.Consumed(frames);
        }

        // The last FINs go out before CLS, so nsqd has nothing to requeue.
        sender.Queue(NsqCommandWriter.WriteCls);
        await sender.DrainAsync().ConfigureAwait(false);
        receiver.Return();
    }

    /// <summary>Sends <paramref name="count"/> commands that nsqd answers with OK, at most <paramref name="window"/> unanswered.</summary>
    private static async Task PublishCommandsAsync(string address, long count, int window, Func<long, ReadOnlyMemory<byte>> command, CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(address, cancellationToken).ConfigureAwait(false);
        var sender = new Sender(socket, cancellationToken);
        long sent = 0;
        void Send(long howMany)
        {
            var writer = sender.Begin();
            for (long i = 0; i < howMany; i++)
            {
                writer.Write(command(sent++).Span);
            }

            sender.End();
        }

        Send(Math.Min(window, count));
        long acknowledged = 0;
        var receiver = new Receiver();
        while (acknowledged < count)
        {
            // Awaited here, not in a helper: an async helper would box its state machine on every pending receive.
            var n = await socket.ReceiveAsync(receiver.Free, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            var frames = receiver.Received(n);
            long ok = 0;
            var heartbeat = false;
            while (frames.Next(out var frame))
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
                    heartbeat = true;
                }
            }

            receiver.Consumed(frames);
            acknowledged += ok;
            Send(Math.Min(ok, count - sent));
            if (heartbeat)
            {
                // nsqd closes a client that misses two heartbeats.
                sender.Queue(NsqCommandWriter.WriteNop);
            }
        }

        await sender.DrainAsync().ConfigureAwait(false);
        receiver.Return();
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
            await socket.SendAsync(magic.WrittenMemory, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The frames of one receive, parsed in place.</summary>
    private struct Frames(ReadOnlySequence<byte> sequence)
    {
        private ReadOnlySequence<byte> _rest = sequence;

        public readonly long Remaining => _rest.Length;

        public bool Next(out NsqFrame frame) => NsqFrameReader.TryReadFrame(ref _rest, out frame);
    }

    /// <summary>One receive buffer; a frame cut by a read boundary is moved to the front for the next read.</summary>
    private sealed class Receiver
    {
        private readonly byte[] _buffer = Buffers.Rent(1024 * 1024);
        private int _filled;

        public Memory<byte> Free => _buffer.AsMemory(_filled);

        public Frames Received(int n)
        {
            if (n == 0)
            {
                throw new IOException("nsqd closed the connection.");
            }

            _filled += n;
            return new Frames(new ReadOnlySequence<byte>(_buffer, 0, _filled));
        }

        public void Return() => ArrayPool<byte>.Shared.Return(_buffer);

        public void Consumed(Frames frames)
        {
            var consumed = _filled - (int)frames.Remaining;
            Buffer.BlockCopy(_buffer, consumed, _buffer, 0, _filled - consumed);
            _filled -= consumed;
        }
    }

    /// <summary>
    /// Commands queued by the read loop and sent without making it wait: the read loop sends them itself
    /// while the socket takes them at once (round trips pay no thread hop), and hands over to a continuation
    /// when a send does not complete at once; what is queued meanwhile goes out with the next send.
    /// </summary>
    private sealed class Sender(Socket socket, CancellationToken cancellationToken)
    {
        private readonly object _lock = new();
        private ArrayBufferWriter<byte> _queued = Buffers.RentWriter();
        private ArrayBufferWriter<byte> _sending = Buffers.RentWriter();
        private bool _busy;
        private Task _tail = Task.CompletedTask;

        /// <summary>Takes the lock and returns the queue to write commands into; <see cref="End"/> releases it and sends.</summary>
        public ArrayBufferWriter<byte> Begin()
        {
            Monitor.Enter(_lock);
            return _queued;
        }

        /// <summary>Releases the queue and, unless a send is under way (it will take what was queued), sends.</summary>
        public void End()
        {
            var start = !_busy && _queued.WrittenCount > 0;
            _busy |= start;
            Monitor.Exit(_lock);
            if (start)
            {
                Pump();
            }
        }

        public void Queue(Action<IBufferWriter<byte>> write)
        {
            write(Begin());
            End();
        }

        /// <summary>Waits until everything queued is sent, then gives the buffers back for the next run.</summary>
        public async Task DrainAsync()
        {
            while (true)
            {
                Task tail;
                lock (_lock)
                {
                    if (!_busy)
                    {
                        Buffers.Return(_queued);
                        Buffers.Return(_sending);
                        return;
                    }

                    tail = _tail;
                }

                await tail.ConfigureAwait(false);
            }
        }

        private void Pump()
        {
            while (true)
            {
                lock (_lock)
                {
                    if (_queued.WrittenCount == 0)
                    {
                        _busy = false;
                        return;
                    }

                    (_queued, _sending) = (_sending, _queued);
                }

                var memory = _sending.WrittenMemory;
                while (!memory.IsEmpty)
                {
                    var pending = socket.SendAsync(memory, SocketFlags.None, cancellationToken);
                    if (!pending.IsCompletedSuccessfully)
                    {
                        lock (_lock)
                        {
                            _tail = FinishAsync(pending, memory);
                        }

                        return;
                    }

                    memory = memory[pending.Result..];
                }

                _sending.ResetWrittenCount();
            }
        }

        private async Task FinishAsync(ValueTask<int> pending, ReadOnlyMemory<byte> memory)
        {
            memory = memory[await pending.ConfigureAwait(false)..];
            while (!memory.IsEmpty)
            {
                memory = memory[await socket.SendAsync(memory, SocketFlags.None, cancellationToken).ConfigureAwait(false)..];
            }

            _sending.ResetWrittenCount();
            Pump();
        }
    }

    /// <summary>
    /// Buffers kept from one run to the next, so that a run's allocations are the client's per message and
    /// not a megabyte of set-up spread over a few thousand messages.
    /// </summary>
    private static class Buffers
    {
        private static readonly System.Collections.Concurrent.ConcurrentBag<ArrayBufferWriter<byte>> s_writers = [];

        public static byte[] Rent(int size) => ArrayPool<byte>.Shared.Rent(size);

        public static ArrayBufferWriter<byte> RentWriter() => s_writers.TryTake(out var writer) ? writer : new ArrayBufferWriter<byte>(256 * 1024);

        public static void Return(ArrayBufferWriter<byte> writer)
        {
            writer.ResetWrittenCount();
            s_writers.Add(writer);
        }
    }
}
