namespace NsqTyped.Testing.Tests.Support;

/// <summary>
/// Bytes received on one layer of a test connection, appended by a pump task and taken by the test
/// (or by the next layer's stream). Every append and the end of the stream wake waiters.
/// </summary>
internal sealed class ByteQueue
{
    private readonly object _lock = new();
    private readonly List<byte> _bytes = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set when the source ended: "eof", "reset" or an exception message.</summary>
    public string? EndKind { get; private set; }

    public bool IsEnded
    {
        get
        {
            lock (_lock)
            {
                return EndKind is not null;
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _bytes.Count;
            }
        }
    }

    /// <summary>When the last bytes arrived (Stopwatch timestamp).</summary>
    public long LastAppendTimestamp { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _bytes.AddRange(data);
            LastAppendTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    public void End(string kind)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            EndKind ??= kind;
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    public byte[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _bytes];
        }
    }

    public byte[] Take(int count)
    {
        lock (_lock)
        {
            var taken = _bytes.GetRange(0, count).ToArray();
            _bytes.RemoveRange(0, count);
            return taken;
        }
    }

    /// <summary>A task completing on the next append or end.</summary>
    public Task Changed
    {
        get
        {
            lock (_lock)
            {
                return _changed.Task;
            }
        }
    }

    /// <summary>Waits for a change for at most <paramref name="timeout"/>; false on timeout.</summary>
    public async Task<bool> WaitChangedAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (timeout <= TimeSpan.Zero)
        {
            return false;
        }

        var changed = Changed;
        var completed = await Task.WhenAny(changed, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return completed == changed;
    }

    /// <summary>A read-only stream over the queue (the input of the next layer); reads wait for bytes.</summary>
    public Stream AsStream(Stream? writeTarget, Action<byte[]>? onFirstRead = null) => new QueueStream(this, writeTarget, onFirstRead);

    private async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (_bytes.Count > 0)
                {
                    var n = Math.Min(buffer.Length, _bytes.Count);
                    for (var i = 0; i < n; i++)
                    {
                        buffer.Span[i] = _bytes[i];
                    }

                    _bytes.RemoveRange(0, n);
                    return n;
                }

                if (EndKind is not null)
                {
                    return 0;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private sealed class QueueStream(ByteQueue queue, Stream? writeTarget, Action<byte[]>? onFirstRead) : Stream
    {
        private Action<byte[]>? _onFirstRead = onFirstRead;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => writeTarget is not null;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await queue.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (_onFirstRead is { } callback && n > 0)
            {
                _onFirstRead = null;
                callback(buffer[..n].ToArray());
            }

            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Write(byte[] buffer, int offset, int count) => Target.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            Target.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Target.WriteAsync(buffer, offset, count, cancellationToken);

        public override void Flush() => writeTarget?.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => writeTarget?.FlushAsync(cancellationToken) ?? Task.CompletedTask;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private Stream Target => writeTarget ?? throw new NotSupportedException();
    }
}
