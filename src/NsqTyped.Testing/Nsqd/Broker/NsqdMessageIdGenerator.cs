using NsqTyped.Protocol;

namespace NsqTyped.Testing.Nsqd.Broker;

/// <summary>
/// Unique message ids in nsqd's shape: a 64-bit number (time-based start, then a counter) written as
/// 16 lower-case hex ASCII characters.
/// </summary>
internal sealed class NsqdMessageIdGenerator
{
    private long _next;

    public NsqdMessageIdGenerator(TimeProvider timeProvider)
    {
        // nsqd's GUIDs carry the millisecond time in the high bits; starting there keeps ids of
        // successive servers distinct, which helps when a test talks to several.
        _next = timeProvider.GetUtcNow().ToUnixTimeMilliseconds() << 22;
    }

    public NsqMessageId Next()
    {
        var value = (ulong)Interlocked.Increment(ref _next);
        Span<byte> hex = stackalloc byte[NsqMessageId.Length];
        for (var i = NsqMessageId.Length - 1; i >= 0; i--)
        {
            var nibble = (int)(value & 0xF);
            hex[i] = (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);
            value >>= 4;
        }

        return NsqMessageId.Read(hex);
    }
}
