using System.Numerics;

namespace NsqTyped.Benchmarks.Soak;

/// <summary>
/// What the soak knows about every message id: acknowledged by nsqd (PublishAsync returned), handled by
/// the Reader (at least once). Two bitmaps in 128 KB chunks, thread-safe, so that 1M ids cost 256 KB.
/// </summary>
internal sealed class SoakLedger
{
    private const int ChunkBits = 1 << 20;
    private const int ChunkInts = ChunkBits / 32;
    private const int MaxChunks = 4096;

    private readonly int[]?[] _acknowledged = new int[MaxChunks][];
    private readonly int[]?[] _handled = new int[MaxChunks][];
    private readonly object _grow = new();
    private long _handledTotal;
    private long _duplicates;
    private long _acknowledgedTotal;
    private long _highestId = -1;

    /// <summary>Messages handled, duplicates included.</summary>
    public long HandledTotal => Interlocked.Read(ref _handledTotal);

    /// <summary>Deliveries of an id that had already been handled.</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Publishes nsqd acknowledged.</summary>
    public long AcknowledgedTotal => Interlocked.Read(ref _acknowledgedTotal);

    /// <summary>Managed bytes the bitmaps hold (they grow with the ids published, by design).</summary>
    public long Bytes
    {
        get
        {
            long bytes = 0;
            for (var i = 0; i < MaxChunks; i++)
            {
                bytes += (Volatile.Read(ref _acknowledged[i])?.Length ?? 0) * sizeof(int);
                bytes += (Volatile.Read(ref _handled[i])?.Length ?? 0) * sizeof(int);
            }

            return bytes;
        }
    }

    /// <summary>Records that nsqd acknowledged <paramref name="id"/>.</summary>
    public void Acknowledge(long id)
    {
        if (Set(_acknowledged, id))
        {
            Interlocked.Increment(ref _acknowledgedTotal);
        }

        long highest;
        while (id > (highest = Interlocked.Read(ref _highestId)) && Interlocked.CompareExchange(ref _highestId, id, highest) != highest)
        {
        }
    }

    /// <summary>Records a delivery of <paramref name="id"/>; returns <see langword="false"/> for a duplicate.</summary>
    public bool Handle(long id)
    {
        Interlocked.Increment(ref _handledTotal);
        if (Set(_handled, id))
        {
            return true;
        }

        Interlocked.Increment(ref _duplicates);
        return false;
    }

    /// <summary>Ids acknowledged but not handled yet (at the end of the soak: lost), and the first few of them.</summary>
    public (long Count, IReadOnlyList<long> First) Unhandled(int sample = 10)
    {
        long count = 0;
        var first = new List<long>();
        var chunks = (Interlocked.Read(ref _highestId) / ChunkBits) + 1;
        for (var c = 0; c < chunks; c++)
        {
            var acknowledged = Volatile.Read(ref _acknowledged[c]);
            if (acknowledged is null)
            {
                continue;
            }

            var handled = Volatile.Read(ref _handled[c]);
            for (var i = 0; i < ChunkInts; i++)
            {
                var missing = Volatile.Read(ref acknowledged[i]) & ~(handled is null ? 0 : Volatile.Read(ref handled[i]));
                if (missing == 0)
                {
                    continue;
                }

                count += BitOperations.PopCount((uint)missing);
                for (var bit = 0; bit < 32 && first.Count < sample; bit++)
                {
                    if ((missing & (1 << bit)) != 0)
                    {
                        first.Add(((long)c * ChunkBits) + (i * 32L) + bit);
                    }
                }
            }
        }

        return (count, first);
    }

    private bool Set(int[]?[] bitmap, long id)
    {
        var chunkIndex = (int)(id / ChunkBits);
        if (chunkIndex >= MaxChunks)
        {
            throw new InvalidOperationException($"The soak tracks at most {(long)MaxChunks * ChunkBits:N0} ids.");
        }

        var chunk = Volatile.Read(ref bitmap[chunkIndex]);
        if (chunk is null)
        {
            lock (_grow)
            {
                chunk = bitmap[chunkIndex];
                if (chunk is null)
                {
                    chunk = new int[ChunkInts];
                    Volatile.Write(ref bitmap[chunkIndex], chunk);
                }
            }
        }

        var offset = (int)(id % ChunkBits);
        var mask = 1 << (offset & 31);
        return (Interlocked.Or(ref chunk[offset >> 5], mask) & mask) == 0;
    }
}
