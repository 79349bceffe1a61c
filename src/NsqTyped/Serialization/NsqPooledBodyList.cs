using System.Buffers;
using System.Collections;

namespace NsqTyped;

/// <summary>
/// The body list of a typed batch publish: message end offsets collected while serializing into one
/// pooled buffer, then turned into slices of it. Its arrays come from ArrayPool and the list object
/// is reused per thread, so an MPUB allocates nothing of its own.
/// </summary>
internal sealed class NsqPooledBodyList : IReadOnlyList<ReadOnlyMemory<byte>>
{
    [ThreadStatic]
    private static NsqPooledBodyList? t_cached;

    private int[] _ends = [];
    private ReadOnlyMemory<byte>[] _bodies = [];
    private int _count;
    private bool _sliced;

    public int Count => _count;

    public ReadOnlyMemory<byte> this[int index]
    {
        get
        {
            if (!_sliced || (uint)index >= (uint)_count)
            {
                throw new ArgumentOutOfRangeException(nameof(index));
            }

            return _bodies[index];
        }
    }

    public static NsqPooledBodyList Rent(int capacityHint)
    {
        var list = t_cached ?? new NsqPooledBodyList();
        t_cached = null;
        list._ends = ArrayPool<int>.Shared.Rent(Math.Max(capacityHint, 1));
        return list;
    }

    public void AddEnd(int end)
    {
        if (_count == _ends.Length)
        {
            var larger = ArrayPool<int>.Shared.Rent(_ends.Length * 2);
            _ends.AsSpan(0, _count).CopyTo(larger);
            ArrayPool<int>.Shared.Return(_ends);
            _ends = larger;
        }

        _ends[_count++] = end;
    }

    /// <summary>Cuts the bodies out of the finished buffer.</summary>
    public void Slice(ReadOnlyMemory<byte> written)
    {
        _bodies = ArrayPool<ReadOnlyMemory<byte>>.Shared.Rent(_count);
        var start = 0;
        for (var i = 0; i < _count; i++)
        {
            _bodies[i] = written[start.._ends[i]];
            start = _ends[i];
        }

        _sliced = true;
    }

    /// <summary>Returns the arrays to the pool and the list to this thread's slot.</summary>
    public void Return()
    {
        if (_bodies.Length > 0)
        {
            ArrayPool<ReadOnlyMemory<byte>>.Shared.Return(_bodies, clearArray: true);
        }

        if (_ends.Length > 0)
        {
            ArrayPool<int>.Shared.Return(_ends);
        }

        _bodies = [];
        _ends = [];
        _count = 0;
        _sliced = false;
        t_cached = this;
    }

    public IEnumerator<ReadOnlyMemory<byte>> GetEnumerator()
    {
        for (var i = 0; i < _count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
