namespace NsqTyped.Testing.Lookupd;

/// <summary>A registration key as nsqlookupd keeps it: <c>client::</c>, <c>topic:name:</c> or <c>channel:topic:channel</c>.</summary>
internal readonly record struct LookupdRegistration(string Category, string Key, string SubKey)
{
    public const string ClientCategory = "client";
    public const string TopicCategory = "topic";
    public const string ChannelCategory = "channel";

    public static LookupdRegistration Client { get; } = new(ClientCategory, string.Empty, string.Empty);

    public static LookupdRegistration Topic(string topic) => new(TopicCategory, topic, string.Empty);

    public static LookupdRegistration Channel(string topic, string channel) => new(ChannelCategory, topic, channel);

    /// <summary>nsqlookupd's <c>Registration.IsMatch</c>: <c>*</c> matches any key or sub-key.</summary>
    public bool IsMatch(string category, string key, string subKey) =>
        Category == category && (key == "*" || Key == key) && (subKey == "*" || SubKey == subKey);
}

/// <summary>
/// What an nsqd told about itself in IDENTIFY. One instance per lookupd TCP connection, shared by every
/// registration of that connection, so a PING refreshes the producer everywhere at once.
/// </summary>
internal sealed class LookupdPeerInfo
{
    private long _lastUpdateUnixNanoseconds;

    public LookupdPeerInfo(string id) => Id = id;

    /// <summary>The connection's remote address; identifies the producer inside the registration DB.</summary>
    public string Id { get; }

    public string RemoteAddress { get; set; } = string.Empty;

    public string Hostname { get; set; } = string.Empty;

    public string BroadcastAddress { get; set; } = string.Empty;

    public long TcpPort { get; set; }

    public long HttpPort { get; set; }

    public string Version { get; set; } = string.Empty;

    public long LastUpdateUnixNanoseconds
    {
        get => Interlocked.Read(ref _lastUpdateUnixNanoseconds);
        set => Interlocked.Exchange(ref _lastUpdateUnixNanoseconds, value);
    }
}

/// <summary>One nsqd as a producer of one registration; tombstones are per registration, as in nsqlookupd.</summary>
internal sealed class LookupdProducer
{
    public LookupdProducer(LookupdPeerInfo peer) => Peer = peer;

    public LookupdPeerInfo Peer { get; }

    public bool Tombstoned { get; private set; }

    /// <summary>When the tombstone was set; <see cref="DateTimeOffset.MinValue"/> (Go's zero time) when never.</summary>
    public DateTimeOffset TombstonedAt { get; private set; } = DateTimeOffset.MinValue;

    public void Tombstone(DateTimeOffset now)
    {
        Tombstoned = true;
        TombstonedAt = now;
    }

    public bool IsTombstoned(TimeSpan lifetime, DateTimeOffset now) => Tombstoned && now - TombstonedAt < lifetime;
}

/// <summary>
/// The registration database of nsqlookupd (<c>registration_db.go</c>): registrations mapped to the
/// producers that announced them. Removing the last producer leaves the registration in place (only
/// <c>#ephemeral</c> ones are dropped by the protocol), which is why <c>/topics</c> keeps listing a topic
/// an nsqd deleted. Insertion order is kept so that listings are stable.
/// </summary>
internal sealed class LookupdRegistrationDb
{
    private readonly Lock _lock = new();
    private readonly OrderedDictionary<LookupdRegistration, OrderedDictionary<string, LookupdProducer>> _registrations = new();

    /// <summary>Adds a registration without producers (no-op when it exists).</summary>
    public void AddRegistration(LookupdRegistration key)
    {
        lock (_lock)
        {
            _registrations.TryAdd(key, new OrderedDictionary<string, LookupdProducer>(StringComparer.Ordinal));
        }
    }

    /// <summary>Adds <paramref name="producer"/> to <paramref name="key"/>; false when that peer was already there.</summary>
    public bool AddProducer(LookupdRegistration key, LookupdProducer producer)
    {
        lock (_lock)
        {
            if (!_registrations.TryGetValue(key, out var producers))
            {
                producers = new OrderedDictionary<string, LookupdProducer>(StringComparer.Ordinal);
                _registrations.Add(key, producers);
            }

            return producers.TryAdd(producer.Peer.Id, producer);
        }
    }

    /// <summary>Removes a peer from a registration; returns whether it was there and how many producers are left.</summary>
    public (bool Removed, int Left) RemoveProducer(LookupdRegistration key, string peerId)
    {
        lock (_lock)
        {
            if (!_registrations.TryGetValue(key, out var producers))
            {
                return (false, 0);
            }

            var removed = producers.Remove(peerId);
            return (removed, producers.Count);
        }
    }

    /// <summary>Removes a registration and all its producers.</summary>
    public void RemoveRegistration(LookupdRegistration key)
    {
        lock (_lock)
        {
            _registrations.Remove(key);
        }
    }

    /// <summary>Registrations matching the pattern (<c>*</c> as wildcard for key or sub-key).</summary>
    public List<LookupdRegistration> FindRegistrations(string category, string key, string subKey)
    {
        lock (_lock)
        {
            if (key != "*" && subKey != "*")
            {
                var exact = new LookupdRegistration(category, key, subKey);
                return _registrations.ContainsKey(exact) ? [exact] : [];
            }

            var results = new List<LookupdRegistration>();
            foreach (var registration in _registrations.Keys)
            {
                if (registration.IsMatch(category, key, subKey))
                {
                    results.Add(registration);
                }
            }

            return results;
        }
    }

    /// <summary>Distinct producers (by peer) of the registrations matching the pattern.</summary>
    public List<LookupdProducer> FindProducers(string category, string key, string subKey)
    {
        lock (_lock)
        {
            var results = new List<LookupdProducer>();
            if (key != "*" && subKey != "*")
            {
                if (_registrations.TryGetValue(new LookupdRegistration(category, key, subKey), out var exact))
                {
                    results.AddRange(exact.Values);
                }

                return results;
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (registration, producers) in _registrations)
            {
                if (!registration.IsMatch(category, key, subKey))
                {
                    continue;
                }

                foreach (var producer in producers.Values)
                {
                    if (seen.Add(producer.Peer.Id))
                    {
                        results.Add(producer);
                    }
                }
            }

            return results;
        }
    }

    /// <summary>Every registration the peer is a producer of.</summary>
    public List<LookupdRegistration> LookupRegistrations(string peerId)
    {
        lock (_lock)
        {
            var results = new List<LookupdRegistration>();
            foreach (var (registration, producers) in _registrations)
            {
                if (producers.ContainsKey(peerId))
                {
                    results.Add(registration);
                }
            }

            return results;
        }
    }

    /// <summary>A consistent copy of the whole database (for <c>/debug</c>).</summary>
    public List<(LookupdRegistration Registration, List<LookupdProducer> Producers)> Snapshot()
    {
        lock (_lock)
        {
            var results = new List<(LookupdRegistration, List<LookupdProducer>)>(_registrations.Count);
            foreach (var (registration, producers) in _registrations)
            {
                results.Add((registration, [.. producers.Values]));
            }

            return results;
        }
    }

    /// <summary>
    /// nsqlookupd's <c>Producers.FilterByActive</c>: drops producers not heard from within
    /// <paramref name="inactivityTimeout"/> and those tombstoned within <paramref name="tombstoneLifetime"/>.
    /// </summary>
    public static List<LookupdProducer> FilterByActive(List<LookupdProducer> producers, TimeSpan inactivityTimeout, TimeSpan tombstoneLifetime, DateTimeOffset now)
    {
        var nowNanoseconds = ToUnixNanoseconds(now);
        var results = new List<LookupdProducer>(producers.Count);
        foreach (var producer in producers)
        {
            var idleNanoseconds = nowNanoseconds - producer.Peer.LastUpdateUnixNanoseconds;
            if (idleNanoseconds > inactivityTimeout.Ticks * 100 || producer.IsTombstoned(tombstoneLifetime, now))
            {
                continue;
            }

            results.Add(producer);
        }

        return results;
    }

    /// <summary>Go's <c>time.Time.UnixNano()</c>.</summary>
    public static long ToUnixNanoseconds(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
}
