using NsqTyped.Testing.Nsqd.Broker;

namespace NsqTyped.Testing.Nsqd.Tcp;

/// <summary>
/// A client's output buffer and its single writer loop. Frames are appended under a short lock from
/// any thread (the read loop, channel deliveries, heartbeats); the loop swaps the buffer out and
/// writes it to the top of the stream stack in one call. Responses and errors are flushed at once;
/// messages wait until the client stops being ready, the buffer reaches <c>output_buffer_size</c>,
/// or <c>output_buffer_timeout</c> passed (nsqd's messagePump rules).
/// </summary>
internal sealed class NsqdOutput
{
    private readonly object _lock = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly SemaphoreSlim _streamGate = new(1, 1);
    private readonly TimeProvider _time;
    private byte[] _buffer = new byte[4096];
    private byte[] _spare = new byte[4096];
    private int _length;
    private bool _urgent;
    private bool _signaled;
    private bool _completed;
    private long _firstPendingTimestamp;
    private int _bufferSize;
    private TimeSpan _bufferTimeout;

    public NsqdOutput(Stream stream, TimeProvider time, int bufferSize, TimeSpan bufferTimeout)
    {
        Stream = stream;
        _time = time;
        _bufferSize = bufferSize;
        _bufferTimeout = bufferTimeout;
    }

    /// <summary>The top of the write stack (changes on TLS/compression upgrades, under the stream gate).</summary>
    public Stream Stream { get; private set; }

    /// <summary>Whether the stream needs an explicit flush after each write (compression layers).</summary>
    public bool FlushAfterWrite { get; private set; }

    /// <summary>Set when a write to the socket failed (the client is gone).</summary>
    public bool Failed { get; private set; }

    public void Configure(int bufferSize, TimeSpan bufferTimeout)
    {
        lock (_lock)
        {
            _bufferSize = bufferSize;
            _bufferTimeout = bufferTimeout;
        }
    }

    /// <summary>Appends a response or error frame and flushes it at once.</summary>
    public void WriteFrame(int frameType, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            var span = Reserve(NsqdFrameWriter.FrameLength(data.Length));
            NsqdFrameWriter.WriteFrame(span, frameType, data);
            _urgent = true;
            SignalLocked();
        }
    }

    /// <summary>Appends a message frame; <see cref="MessagesSent"/> decides when it is flushed.</summary>
    public void WriteMessage(NsqdMessage message)
    {
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            var span = Reserve(NsqdFrameWriter.MessageOverhead + message.Body.Length);
            NsqdFrameWriter.WriteMessage(span, message);
        }
    }

    public void MessagesSent(bool stillReady)
    {
        lock (_lock)
        {
            if (_length == 0)
            {
                return;
            }

            if (!stillReady || _length >= _bufferSize || _bufferTimeout <= TimeSpan.Zero)
            {
                _urgent = true;
            }

            SignalLocked();
        }
    }

    /// <summary>Stops accepting frames; the loop writes what is buffered and ends.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            _completed = true;
            _urgent = true;
            SignalLocked();
        }
    }

    private Span<byte> Reserve(int length)
    {
        if (_length == 0)
        {
            _firstPendingTimestamp = _time.GetTimestamp();
        }

        if (_buffer.Length - _length < length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + length));
        }

        var span = _buffer.AsSpan(_length, length);
        _length += length;
        return span;
    }

    private void SignalLocked()
    {
        if (!_signaled)
        {
            _signaled = true;
            _signal.Release();
        }
    }

    /// <summary>The writer loop; ends after <see cref="Complete"/> once everything is written, or on a write error.</summary>
    public async Task RunAsync()
    {
        while (true)
        {
            await _signal.WaitAsync().ConfigureAwait(false);
            while (true)
            {
                TimeSpan wait;
                lock (_lock)
                {
                    _signaled = false;
                    if (_length == 0)
                    {
                        if (_completed)
                        {
                            return;
                        }

                        break;
                    }

                    wait = TimeSpan.Zero;
                    if (!_urgent && _length < _bufferSize && _bufferTimeout > TimeSpan.Zero)
                    {
                        wait = _bufferTimeout - _time.GetElapsedTime(_firstPendingTimestamp);
                    }
                }

                if (wait > TimeSpan.Zero)
                {
                    // Wake early when something urgent arrives (a response, or the client became not ready).
                    await _signal.WaitAsync(wait).ConfigureAwait(false);
                    continue;
                }

                await _streamGate.WaitAsync().ConfigureAwait(false);
                try
                {
                    if (!await WriteBufferedAsync().ConfigureAwait(false))
                    {
                        return;
                    }
                }
                finally
                {
                    _streamGate.Release();
                }
            }
        }
    }

    /// <summary>Swaps the buffer out and writes it; call with the stream gate held.</summary>
    private async ValueTask<bool> WriteBufferedAsync()
    {
        int length;
        lock (_lock)
        {
            length = _length;
            if (length == 0)
            {
                return true;
            }

            (_buffer, _spare) = (_spare, _buffer);
            _length = 0;
            _urgent = false;
        }

        try
        {
            await Stream.WriteAsync(_spare.AsMemory(0, length)).ConfigureAwait(false);
            if (FlushAfterWrite)
            {
                await Stream.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
        {
            lock (_lock)
            {
                Failed = true;
                _completed = true;
                _length = 0;
            }

            return false;
        }

        if (_spare.Length > 1024 * 1024)
        {
            _spare = new byte[4096];
        }

        return true;
    }

    /// <summary>
    /// Runs a stream upgrade with exclusive access to the stream: what is buffered (the IDENTIFY
    /// response) is written to the current stream first, then <paramref name="upgrade"/> returns the
    /// new top of the stack.
    /// </summary>
    public async Task UpgradeAsync(Func<Stream, Task<Stream>> upgrade, bool flushAfterWrite)
    {
        await _streamGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (!await WriteBufferedAsync().ConfigureAwait(false))
            {
                throw new IOException("The client went away during the upgrade.");
            }

            Stream = await upgrade(Stream).ConfigureAwait(false);
            FlushAfterWrite |= flushAfterWrite;
        }
        finally
        {
            _streamGate.Release();
        }
    }
}
