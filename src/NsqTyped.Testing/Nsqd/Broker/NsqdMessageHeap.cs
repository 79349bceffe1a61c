namespace NsqTyped.Testing.Nsqd.Broker;

/// <summary>
/// Min-heap of messages by <see cref="NsqdMessage.Deadline"/> with O(log n) removal through the
/// message's <see cref="NsqdMessage.HeapIndex"/> (nsqd's in-flight priority queue). FIN/REQ remove
/// their entry at once, so the heap never holds stale messages.
/// </summary>
internal sealed class NsqdMessageHeap
{
    private NsqdMessage[] _items = new NsqdMessage[16];

    public int Count { get; private set; }

    public NsqdMessage? Peek() => Count > 0 ? _items[0] : null;

    public void Push(NsqdMessage message)
    {
        if (Count == _items.Length)
        {
            Array.Resize(ref _items, _items.Length * 2);
        }

        _items[Count] = message;
        message.HeapIndex = Count;
        Count++;
        Up(Count - 1);
    }

    public NsqdMessage Pop()
    {
        var top = _items[0];
        Remove(top);
        return top;
    }

    public void Remove(NsqdMessage message)
    {
        var index = message.HeapIndex;
        if (index < 0 || index >= Count || !ReferenceEquals(_items[index], message))
        {
            return;
        }

        Count--;
        if (index != Count)
        {
            _items[index] = _items[Count];
            _items[index].HeapIndex = index;
            _items[Count] = null!;
            if (!Up(index))
            {
                Down(index);
            }
        }
        else
        {
            _items[Count] = null!;
        }

        message.HeapIndex = -1;
    }

    public void Clear()
    {
        for (var i = 0; i < Count; i++)
        {
            _items[i].HeapIndex = -1;
            _items[i] = null!;
        }

        Count = 0;
        if (_items.Length > 1024)
        {
            _items = new NsqdMessage[16];
        }
    }

    private bool Up(int index)
    {
        var moved = false;
        while (index > 0)
        {
            var parent = (index - 1) / 2;
            if (_items[parent].Deadline <= _items[index].Deadline)
            {
                break;
            }

            Swap(parent, index);
            index = parent;
            moved = true;
        }

        return moved;
    }

    private void Down(int index)
    {
        while (true)
        {
            var left = (2 * index) + 1;
            if (left >= Count)
            {
                return;
            }

            var smallest = left + 1 < Count && _items[left + 1].Deadline < _items[left].Deadline ? left + 1 : left;
            if (_items[index].Deadline <= _items[smallest].Deadline)
            {
                return;
            }

            Swap(index, smallest);
            index = smallest;
        }
    }

    private void Swap(int a, int b)
    {
        (_items[a], _items[b]) = (_items[b], _items[a]);
        _items[a].HeapIndex = a;
        _items[b].HeapIndex = b;
    }
}
