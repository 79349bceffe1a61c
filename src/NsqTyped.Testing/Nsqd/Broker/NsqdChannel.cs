using NsqTyped.Protocol;

namespace NsqTyped.Testing.Nsqd.Broker;

/// <summary>Outcome of FIN/REQ/TOUCH on a channel, with nsqd's error texts.</summary>
internal enum NsqdInFlightResult
{
    Ok,

    /// <summary>"ID not in flight"</summary>
    NotInFlight,

    /// <summary>"client does not own message"</summary>
    NotOwner,
}

/// <summary>
/// A channel: its own copy of every message published to the topic after it was created, shared by
/// competing consumers. Holds the ready queue, the messages in flight (by id, with deadlines) and the
/// deferred ones; one lock guards all of it and the RDY/in-flight accounting of its clients.
/// Deliveries happen right here (push): whenever a message becomes ready or a client gets room in
/// its RDY window, the next ready client gets it, round robin.
/// </summary>
internal sealed class NsqdChannel
{
    private readonly object _lock = new();
    private readonly NsqdBroker _broker;
    private readonly Queue<NsqdMessage> _queue = new();
    private readonly Dictionary<NsqMessageId, NsqdMessage> _inFlight = [];
    private readonly NsqdMessageHeap _inFlightHeap = new();
    private readonly NsqdMessageHeap _deferredHeap = new();
    private readonly List<NsqdClient> _clients = [];
    private int _nextClient;
    private bool _paused;
    private bool _deleted;
    private long _messageCount;
    private long _requeueCount;
    private long _timeoutCount;

    internal NsqdChannel(NsqdBroker broker, NsqdTopic topic, string name)
    {
        _broker = broker;
        Topic = topic;
        Name = name;
        IsEphemeral = NsqNames.IsEphemeral(name);
    }

    /// <summary>The topic the channel belongs to.</summary>
    public NsqdTopic Topic { get; }

    /// <summary>The channel name.</summary>
    public string Name { get; }

    /// <summary>Whether the name ends in <c>#ephemeral</c> (deleted when its last client leaves).</summary>
    public bool IsEphemeral { get; }

    /// <summary>Messages waiting for delivery (nsqd's depth: neither in flight nor deferred).</summary>
    public long Depth
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary><c>in_flight_count</c></summary>
    public long InFlightCount
    {
        get
        {
            lock (_lock)
            {
                return _inFlight.Count;
            }
        }
    }

    /// <summary><c>deferred_count</c></summary>
    public long DeferredCount
    {
        get
        {
            lock (_lock)
            {
                return _deferredHeap.Count;
            }
        }
    }

    /// <summary><c>message_count</c>: messages put into the channel (requeues not counted).</summary>
    public long MessageCount => Interlocked.Read(ref _messageCount);

    /// <summary><c>requeue_count</c>: REQs.</summary>
    public long RequeueCount => Interlocked.Read(ref _requeueCount);

    /// <summary><c>timeout_count</c>: in-flight timeouts.</summary>
    public long TimeoutCount => Interlocked.Read(ref _timeoutCount);

    /// <summary>Whether delivery is paused.</summary>
    public bool IsPaused => Volatile.Read(ref _paused);

    /// <summary>Whether the channel was deleted.</summary>
    public bool IsDeleted => Volatile.Read(ref _deleted);

    /// <summary>Clients subscribed to the channel (a snapshot).</summary>
    public IReadOnlyList<NsqdClient> Clients
    {
        get
        {
            lock (_lock)
            {
                return [.. _clients];
            }
        }
    }

    /// <summary>Stops deliveries (messages keep queueing; in-flight ones can still be finished).</summary>
    public void Pause()
    {
        lock (_lock)
        {
            _paused = true;
        }
    }

    /// <summary>Resumes deliveries.</summary>
    public void Unpause()
    {
        lock (_lock)
        {
            _paused = false;
            Dispatch();
        }
    }

    /// <summary>Drops every queued, in-flight and deferred message (nsqd's channel empty).</summary>
    public void Empty()
    {
        lock (_lock)
        {
            _queue.Clear();
            foreach (var message in _inFlight.Values)
            {
                message.Owner = null;
            }

            _inFlight.Clear();
            _inFlightHeap.Clear();
            _deferredHeap.Clear();
            foreach (var client in _clients)
            {
                client.InFlightCount = 0;
            }

            Dispatch();
        }
    }

    internal void Put(NsqdMessage message)
    {
        lock (_lock)
        {
            PutLocked(message);
            Dispatch();
        }
    }

    internal void PutMany(ReadOnlySpan<NsqdMessage> messages, bool copy)
    {
        lock (_lock)
        {
            foreach (var message in messages)
            {
                PutLocked(copy ? message.CopyForChannel() : message);
            }

            Dispatch();
        }
    }

    private void PutLocked(NsqdMessage message)
    {
        if (_deleted)
        {
            return;
        }

        _messageCount++;
        if (message.PublishDeferral > TimeSpan.Zero)
        {
            DeferLocked(message, message.PublishDeferral);
        }
        else
        {
            _queue.Enqueue(message);
        }
    }

    /// <summary>Adds a consumer; <see langword="false"/> when the channel is full or deleted.</summary>
    internal bool AddClient(NsqdClient client, int maxConsumers)
    {
        lock (_lock)
        {
            if (_deleted)
            {
                return false;
            }

            if (_clients.Contains(client))
            {
                return true;
            }

            if (maxConsumers > 0 && _clients.Count >= maxConsumers)
            {
                return false;
            }

            _clients.Add(client);
            return true;
        }
    }

    /// <summary>
    /// Removes a consumer (it disconnected). Its messages stay in flight until their timeout, as in
    /// nsqd; an ephemeral channel left without clients is deleted.
    /// </summary>
    internal void RemoveClient(NsqdClient client)
    {
        bool deleteNow;
        lock (_lock)
        {
            if (!_clients.Remove(client))
            {
                return;
            }

            deleteNow = IsEphemeral && _clients.Count == 0 && !_deleted;
        }

        if (deleteNow)
        {
            Topic.DeleteChannel(Name);
        }
    }

    /// <summary>RDY: sets the window and delivers what fits.</summary>
    internal void SetReady(NsqdClient client, long count)
    {
        lock (_lock)
        {
            client.ReadyCount = count;
            Dispatch();

            // nsqd's messagePump flushes as soon as a client stops being ready.
            if (!client.IsReadyForMessages)
            {
                client.MessagesSent(stillReady: false);
            }
        }
    }

    /// <summary>CLS: RDY forced to 0, state closing (FIN/REQ/TOUCH keep working).</summary>
    internal void StartClose(NsqdClient client)
    {
        lock (_lock)
        {
            client.ReadyCount = 0;
            client.State = NsqdClientState.Closing;
            client.MessagesSent(stillReady: false);
        }
    }

    internal NsqdInFlightResult Finish(NsqdClient client, NsqMessageId id)
    {
        lock (_lock)
        {
            var result = TakeInFlight(client, id, out _);
            if (result == NsqdInFlightResult.Ok)
            {
                client.FinishCount++;
                Dispatch();
            }

            return result;
        }
    }

    internal NsqdInFlightResult Requeue(NsqdClient client, NsqMessageId id, TimeSpan delay)
    {
        lock (_lock)
        {
            var result = TakeInFlight(client, id, out var message);
            if (result != NsqdInFlightResult.Ok)
            {
                return result;
            }

            client.RequeueCount++;
            _requeueCount++;
            if (delay <= TimeSpan.Zero)
            {
                _queue.Enqueue(message!);
            }
            else
            {
                DeferLocked(message!, delay);
            }

            Dispatch();
            return result;
        }
    }

    internal NsqdInFlightResult Touch(NsqdClient client, NsqMessageId id)
    {
        lock (_lock)
        {
            if (!_inFlight.TryGetValue(id, out var message))
            {
                return NsqdInFlightResult.NotInFlight;
            }

            if (message.Owner != client)
            {
                return NsqdInFlightResult.NotOwner;
            }

            _inFlightHeap.Remove(message);
            var deadline = _broker.NowTicks + client.MsgTimeout.Ticks;
            var cap = message.DeliveredAt + _broker.Options.MaxMsgTimeout.Ticks;
            message.Deadline = Math.Min(deadline, cap);
            _inFlightHeap.Push(message);
            _broker.ScheduleScan(_inFlightHeap.Peek()!.Deadline);
            return NsqdInFlightResult.Ok;
        }
    }

    private NsqdInFlightResult TakeInFlight(NsqdClient client, NsqMessageId id, out NsqdMessage? message)
    {
        if (!_inFlight.TryGetValue(id, out message))
        {
            return NsqdInFlightResult.NotInFlight;
        }

        if (message.Owner != client)
        {
            return NsqdInFlightResult.NotOwner;
        }

        _inFlight.Remove(id);
        _inFlightHeap.Remove(message);
        message.Owner = null;
        client.InFlightCount--;
        return NsqdInFlightResult.Ok;
    }

    private void DeferLocked(NsqdMessage message, TimeSpan delay)
    {
        message.Deadline = _broker.NowTicks + delay.Ticks;
        _deferredHeap.Push(message);
        _broker.ScheduleScan(_deferredHeap.Peek()!.Deadline);
    }

    /// <summary>
    /// The queue scan for this channel: requeues timed-out in-flight messages and releases due
    /// deferred ones (never before their deadline). Returns the next deadline, or <see cref="long.MaxValue"/>.
    /// </summary>
    internal long ProcessDue(long now)
    {
        lock (_lock)
        {
            var changed = false;
            while (_inFlightHeap.Peek() is { } expired && expired.Deadline <= now)
            {
                _inFlightHeap.Pop();
                _inFlight.Remove(expired.Id);
                if (expired.Owner is { } owner)
                {
                    owner.InFlightCount--;
                }

                expired.Owner = null;
                _timeoutCount++;
                _queue.Enqueue(expired);
                changed = true;
            }

            while (_deferredHeap.Peek() is { } due && due.Deadline <= now)
            {
                _deferredHeap.Pop();
                _queue.Enqueue(due);
                changed = true;
            }

            if (changed)
            {
                Dispatch();
            }

            var next = long.MaxValue;
            if (_inFlightHeap.Peek() is { } a)
            {
                next = a.Deadline;
            }

            if (_deferredHeap.Peek() is { } b && b.Deadline < next)
            {
                next = b.Deadline;
            }

            return next;
        }
    }

    /// <summary>Deletes the channel's content and disconnects its clients (called by the topic).</summary>
    internal void Delete()
    {
        NsqdClient[] clients;
        lock (_lock)
        {
            _deleted = true;
            _queue.Clear();
            _inFlight.Clear();
            _inFlightHeap.Clear();
            _deferredHeap.Clear();
            clients = [.. _clients];
            _clients.Clear();
        }

        foreach (var client in clients)
        {
            client.CloseConnection();
        }
    }

    /// <summary>Delivers queued messages to ready clients. Caller holds the lock.</summary>
    private void Dispatch()
    {
        if (_paused || _deleted || _clients.Count == 0 || _queue.Count == 0)
        {
            return;
        }

        var now = _broker.NowTicks;
        NsqdClient? last = null;
        var scheduled = false;
        while (_queue.Count > 0)
        {
            var client = NextReadyClient();
            if (client is null)
            {
                break;
            }

            if (last is not null && last != client)
            {
                last.MessagesSent(last.IsReadyForMessages);
            }

            last = client;
            var message = _queue.Dequeue();
            var sampleRate = client.SampleRate;

            // nsqd's messagePump drops a message it samples out for this client (it is not requeued).
            if (sampleRate > 0 && Random.Shared.Next(100) > sampleRate)
            {
                continue;
            }

            message.Attempts++;
            message.Owner = client;
            message.DeliveredAt = now;
            message.Deadline = now + client.MsgTimeout.Ticks;
            _inFlight[message.Id] = message;
            _inFlightHeap.Push(message);
            if (!scheduled && _inFlightHeap.Peek() == message)
            {
                _broker.ScheduleScan(message.Deadline);
                scheduled = true;
            }

            client.InFlightCount++;
            client.MessageCount++;
            client.SendMessage(message);
        }

        last?.MessagesSent(last.IsReadyForMessages);
    }

    private NsqdClient? NextReadyClient()
    {
        var count = _clients.Count;
        for (var i = 0; i < count; i++)
        {
            var index = (_nextClient + i) % count;
            var client = _clients[index];
            if (client.IsReadyForMessages)
            {
                _nextClient = (index + 1) % count;
                return client;
            }
        }

        return null;
    }
}
