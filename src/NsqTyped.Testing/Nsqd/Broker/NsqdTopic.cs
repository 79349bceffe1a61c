using NsqTyped.Protocol;

namespace NsqTyped.Testing.Nsqd.Broker;

/// <summary>
/// A topic: every message published to it fans out to every channel (each channel gets its own
/// copy). Messages published while it has no channel, or while it is paused, wait in the topic and go
/// to the channels that exist when they are released, as in nsqd.
/// </summary>
internal sealed class NsqdTopic
{
    private readonly object _lock = new();
    private readonly NsqdBroker _broker;
    private readonly Dictionary<string, NsqdChannel> _channels = new(StringComparer.Ordinal);
    private readonly Queue<NsqdMessage> _pending = new();
    private NsqdChannel[] _channelArray = [];
    private bool _paused;
    private bool _deleted;
    private long _messageCount;
    private long _messageBytes;

    internal NsqdTopic(NsqdBroker broker, string name)
    {
        _broker = broker;
        Name = name;
        IsEphemeral = NsqNames.IsEphemeral(name);
    }

    /// <summary>The topic name.</summary>
    public string Name { get; }

    /// <summary>Whether the name ends in <c>#ephemeral</c> (deleted with its last channel).</summary>
    public bool IsEphemeral { get; }

    /// <summary>Messages waiting in the topic itself (no channel yet, or paused).</summary>
    public long Depth
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary><c>message_count</c>: messages published.</summary>
    public long MessageCount => Interlocked.Read(ref _messageCount);

    /// <summary><c>message_bytes</c>: body bytes published.</summary>
    public long MessageBytes => Interlocked.Read(ref _messageBytes);

    /// <summary>Whether the topic holds messages back from its channels.</summary>
    public bool IsPaused => Volatile.Read(ref _paused);

    /// <summary>Whether the topic was deleted.</summary>
    public bool IsDeleted => Volatile.Read(ref _deleted);

    /// <summary>The channels, sorted by name (a snapshot).</summary>
    public IReadOnlyList<NsqdChannel> Channels
    {
        get
        {
            var channels = Volatile.Read(ref _channelArray);
            return [.. channels.OrderBy(c => c.Name, StringComparer.Ordinal)];
        }
    }

    /// <summary>Publishes one message (PUB).</summary>
    /// <returns>The message id.</returns>
    public NsqMessageId Publish(ReadOnlyMemory<byte> body) => PublishCore(body, TimeSpan.Zero);

    /// <summary>Publishes one message delivered no earlier than <paramref name="deferral"/> from now (DPUB).</summary>
    public NsqMessageId PublishDeferred(ReadOnlyMemory<byte> body, TimeSpan deferral) => PublishCore(body, deferral);

    /// <summary>Publishes messages in order, atomically with respect to other publishes (MPUB).</summary>
    public void PublishMany(IReadOnlyList<ReadOnlyMemory<byte>> bodies)
    {
        ArgumentNullException.ThrowIfNull(bodies);
        if (bodies.Count == 0)
        {
            return;
        }

        var timestamp = _broker.UnixNanoseconds;
        var messages = new NsqdMessage[bodies.Count];
        long bytes = 0;
        for (var i = 0; i < messages.Length; i++)
        {
            messages[i] = new NsqdMessage(_broker.Ids.Next(), timestamp, bodies[i]);
            bytes += bodies[i].Length;
        }

        lock (_lock)
        {
            ThrowIfDeleted();
            _messageCount += messages.Length;
            _messageBytes += bytes;
            if (_paused || _channelArray.Length == 0)
            {
                foreach (var message in messages)
                {
                    _pending.Enqueue(message);
                }

                return;
            }

            var channels = _channelArray;
            for (var i = 0; i < channels.Length; i++)
            {
                channels[i].PutMany(messages, copy: i > 0);
            }
        }
    }

    private NsqMessageId PublishCore(ReadOnlyMemory<byte> body, TimeSpan deferral)
    {
        var message = new NsqdMessage(_broker.Ids.Next(), _broker.UnixNanoseconds, body) { PublishDeferral = deferral };
        lock (_lock)
        {
            ThrowIfDeleted();
            _messageCount++;
            _messageBytes += body.Length;
            if (_paused || _channelArray.Length == 0)
            {
                _pending.Enqueue(message);
            }
            else
            {
                var channels = _channelArray;
                for (var i = 0; i < channels.Length; i++)
                {
                    channels[i].Put(i == 0 ? message : message.CopyForChannel());
                }
            }
        }

        return message.Id;
    }

    private void ThrowIfDeleted()
    {
        if (_deleted)
        {
            throw new InvalidOperationException($"Topic '{Name}' is exiting.");
        }
    }

    /// <summary>Finds a channel.</summary>
    public bool TryGetChannel(string name, out NsqdChannel channel)
    {
        lock (_lock)
        {
            return _channels.TryGetValue(name, out channel!);
        }
    }

    /// <summary>Returns the channel, creating it (and releasing waiting messages into it) when new.</summary>
    public NsqdChannel GetOrCreateChannel(string name)
    {
        NsqdChannel channel;
        lock (_lock)
        {
            if (_channels.TryGetValue(name, out var existing))
            {
                return existing;
            }

            channel = new NsqdChannel(_broker, this, name);
            _channels.Add(name, channel);
            Volatile.Write(ref _channelArray, [.. _channels.Values]);
            if (!_paused)
            {
                ReleasePendingLocked();
            }
        }

        _broker.RaiseChannelCreated(channel);
        return channel;
    }

    /// <summary>Deletes a channel and disconnects its clients; an ephemeral topic goes with its last channel.</summary>
    public bool DeleteChannel(string name)
    {
        NsqdChannel? channel;
        bool deleteTopic;
        lock (_lock)
        {
            if (!_channels.Remove(name, out channel))
            {
                return false;
            }

            Volatile.Write(ref _channelArray, [.. _channels.Values]);
            deleteTopic = IsEphemeral && _channels.Count == 0 && !_deleted;
        }

        channel.Delete();
        _broker.RaiseChannelDeleted(channel);
        if (deleteTopic)
        {
            _broker.DeleteTopic(Name);
        }

        return true;
    }

    /// <summary>Holds messages back from the channels.</summary>
    public void Pause()
    {
        lock (_lock)
        {
            _paused = true;
        }
    }

    /// <summary>Releases held messages to the channels and resumes fan-out.</summary>
    public void Unpause()
    {
        lock (_lock)
        {
            _paused = false;
            ReleasePendingLocked();
        }
    }

    /// <summary>Drops the messages waiting in the topic (channels keep theirs).</summary>
    public void Empty()
    {
        lock (_lock)
        {
            _pending.Clear();
        }
    }

    private void ReleasePendingLocked()
    {
        var channels = _channelArray;
        if (_pending.Count == 0 || channels.Length == 0)
        {
            return;
        }

        var messages = _pending.ToArray();
        _pending.Clear();
        for (var i = 0; i < channels.Length; i++)
        {
            channels[i].PutMany(messages, copy: i > 0);
        }
    }

    /// <summary>Marks the topic deleted and deletes its channels (called by the broker).</summary>
    internal void Delete()
    {
        NsqdChannel[] channels;
        lock (_lock)
        {
            _deleted = true;
            _pending.Clear();
            channels = [.. _channels.Values];
            _channels.Clear();
            Volatile.Write(ref _channelArray, []);
        }

        foreach (var channel in channels)
        {
            channel.Delete();
            _broker.RaiseChannelDeleted(channel);
        }
    }

    /// <summary>Channels for the queue scan, without sorting or locking.</summary>
    internal NsqdChannel[] ChannelArray => Volatile.Read(ref _channelArray);
}
