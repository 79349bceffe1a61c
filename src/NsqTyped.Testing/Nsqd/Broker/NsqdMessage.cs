using NsqTyped.Protocol;

namespace NsqTyped.Testing.Nsqd.Broker;

/// <summary>
/// A message as a channel holds it: id, publish timestamp, attempts and body, plus the channel-owned
/// delivery state (owner, deadline, heap slot). Every channel gets its own instance (sharing id,
/// timestamp and body), as nsqd copies a message per channel.
/// </summary>
internal sealed class NsqdMessage
{
    public NsqdMessage(NsqMessageId id, long timestampNanoseconds, ReadOnlyMemory<byte> body)
    {
        Id = id;
        TimestampNanoseconds = timestampNanoseconds;
        Body = body;
    }

    /// <summary>16 lower-case hex ASCII bytes, unique within the server.</summary>
    public NsqMessageId Id { get; }

    /// <summary>Publish time, nanoseconds since the Unix epoch.</summary>
    public long TimestampNanoseconds { get; }

    /// <summary>Deliveries so far (incremented on each delivery).</summary>
    public ushort Attempts { get; set; }

    /// <summary>The payload.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Deferral requested at publish time (DPUB) that still has to be applied by the channel.</summary>
    public TimeSpan PublishDeferral { get; init; }

    /// <summary>The client holding the message in flight.</summary>
    internal NsqdClient? Owner { get; set; }

    /// <summary>Broker clock ticks of the delivery (TOUCH may not extend past delivery + max_msg_timeout).</summary>
    internal long DeliveredAt { get; set; }

    /// <summary>Broker clock ticks when the in-flight timeout or the deferral ends.</summary>
    internal long Deadline { get; set; }

    /// <summary>Position in the channel's in-flight or deferred heap; -1 when in neither.</summary>
    internal int HeapIndex { get; set; } = -1;

    /// <summary>A copy for another channel: same id, timestamp and body, fresh delivery state.</summary>
    public NsqdMessage CopyForChannel() => new(Id, TimestampNanoseconds, Body) { PublishDeferral = PublishDeferral };
}
