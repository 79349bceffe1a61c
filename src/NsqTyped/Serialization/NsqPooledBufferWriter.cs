using System.Buffers;

namespace NsqTyped;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> over ArrayPool arrays, itself reused per thread, so a typed
/// publish allocates neither its body array nor its writer.
/// </summary>
internal sealed class NsqPooledBufferWriter : IBufferWriter<byte>
{
    private const int InitialSize = 256;

    [ThreadStatic]
    private static NsqPooledBufferWriter? t_cached;

    private byte[] _buffer = [];
    private int _written;

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public int WrittenCount => _written;

    public static NsqPooledBufferWriter Rent()
    {
        var writer = t_cached ?? new NsqPooledBufferWriter();
        t_cached = null;
        return writer;
    }

    /// <summary>Gives the array back to the pool and the writer back to this thread's slot (which may not be the renting thread after an await).</summary>
    public void Return()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = [];
        _written = 0;
        t_cached = this;
    }

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_written + count > _buffer.Length)
        {
            throw new InvalidOperationException("Advanced past the end of the buffer.");
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    private void Ensure(int sizeHint)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        var needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= needed)
        {
            return;
        }

        var size = Math.Max(Math.Max(InitialSize, _buffer.Length * 2), _written + needed);
        var larger = ArrayPool<byte>.Shared.Rent(size);
        _buffer.AsSpan(0, _written).CopyTo(larger);
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = larger;
    }
}
