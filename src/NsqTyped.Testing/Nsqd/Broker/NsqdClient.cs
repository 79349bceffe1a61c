namespace NsqTyped.Testing.Nsqd.Broker;

/// <summary>nsqd's client states (<c>nsqd/client_v2.go</c>); the number is what <c>/stats</c> reports.</summary>
internal enum NsqdClientState
{
    Init = 0,
    Disconnected = 1,
    Connected = 2,
    Subscribed = 3,
    Closing = 4,
}

/// <summary>
/// One connected client as the broker sees it: identity, negotiated settings, RDY/in-flight
/// accounting and the counters <c>/stats</c> reports. The TCP session derives from it and supplies
/// the delivery hooks. RDY, in-flight and the delivery counters change under the lock of the
/// subscribed channel; stats read them without a lock.
/// </summary>
internal abstract class NsqdClient
{
    private static long s_nextId;
    private readonly object _pubLock = new();
    private readonly Dictionary<string, ulong> _pubCounts = new(StringComparer.Ordinal);
    private volatile int _state;

    protected NsqdClient(string remoteAddress, DateTimeOffset connectTime, TimeSpan msgTimeout)
    {
        Id = Interlocked.Increment(ref s_nextId);
        RemoteAddress = remoteAddress;
        ConnectTime = connectTime;
        MsgTimeout = msgTimeout;
    }

    /// <summary>Server-assigned numeric id.</summary>
    public long Id { get; }

    /// <summary>The <c>client_id</c> from IDENTIFY (before IDENTIFY: the remote host, as nsqd).</summary>
    public string ClientId { get; set; } = "";

    /// <summary>The <c>hostname</c> from IDENTIFY.</summary>
    public string Hostname { get; set; } = "";

    /// <summary>The <c>user_agent</c> from IDENTIFY.</summary>
    public string UserAgent { get; set; } = "";

    /// <summary>Remote <c>ip:port</c>.</summary>
    public string RemoteAddress { get; }

    /// <summary>When the connection was accepted.</summary>
    public DateTimeOffset ConnectTime { get; }

    public NsqdClientState State
    {
        get => (NsqdClientState)_state;
        set => _state = (int)value;
    }

    /// <summary>The channel after SUB.</summary>
    public NsqdChannel? Channel { get; set; }

    /// <summary>Message timeout in force for this client.</summary>
    public TimeSpan MsgTimeout { get; set; }

    /// <summary>Percentage of messages to deliver (0 = all).</summary>
    public int SampleRate { get; set; }

    public long ReadyCount { get; internal set; }

    public long InFlightCount { get; internal set; }

    public ulong MessageCount { get; internal set; }

    public ulong FinishCount { get; internal set; }

    public ulong RequeueCount { get; internal set; }

    public bool Snappy { get; set; }

    public bool Deflate { get; set; }

    public bool Tls { get; set; }

    public string TlsCipherSuite { get; set; } = "";

    public string TlsVersion { get; set; } = "";

    public string TlsNegotiatedProtocol { get; set; } = "";

    public bool TlsNegotiatedProtocolIsMutual { get; set; }

    /// <summary>Whether AUTH succeeded with at least one authorization (nsqd's HasAuthorizations, <c>authed</c> in stats).</summary>
    public bool Authed { get; set; }

    /// <summary>Identity from a successful AUTH, or <see langword="null"/>.</summary>
    public string? AuthIdentity { get; set; }

    /// <summary>Identity URL from a successful AUTH, or <see langword="null"/>.</summary>
    public string? AuthIdentityUrl { get; set; }

    /// <summary>Whether the client may receive a message now (nsqd's IsReadyForMessages, minus the channel pause).</summary>
    internal bool IsReadyForMessages
    {
        get
        {
            var ready = ReadyCount;
            return _state == (int)NsqdClientState.Subscribed && ready > 0 && InFlightCount < ready;
        }
    }

    /// <summary>Counts a publish for <c>pub_counts</c>; a client that published is a "producer" in <c>/stats</c>.</summary>
    public void CountPublished(string topic, ulong count)
    {
        lock (_pubLock)
        {
            _pubCounts[topic] = _pubCounts.GetValueOrDefault(topic) + count;
        }
    }

    /// <summary>Whether the client published at least once (nsqd's IsProducer).</summary>
    public bool IsProducer
    {
        get
        {
            lock (_pubLock)
            {
                return _pubCounts.Count > 0;
            }
        }
    }

    /// <summary>A snapshot of the counters and settings for <c>/stats</c>.</summary>
    public NsqdClientStats GetStats()
    {
        KeyValuePair<string, ulong>[] pubCounts;
        lock (_pubLock)
        {
            pubCounts = [.. _pubCounts.OrderBy(p => p.Key, StringComparer.Ordinal)];
        }

        return new NsqdClientStats
        {
            ClientId = ClientId,
            Hostname = Hostname,
            Version = "V2",
            RemoteAddress = RemoteAddress,
            State = (int)State,
            ReadyCount = ReadyCount,
            InFlightCount = InFlightCount,
            MessageCount = MessageCount,
            FinishCount = FinishCount,
            RequeueCount = RequeueCount,
            ConnectTime = ConnectTime,
            SampleRate = SampleRate,
            Deflate = Deflate,
            Snappy = Snappy,
            UserAgent = UserAgent,
            Tls = Tls,
            TlsCipherSuite = TlsCipherSuite,
            TlsVersion = TlsVersion,
            TlsNegotiatedProtocol = TlsNegotiatedProtocol,
            TlsNegotiatedProtocolIsMutual = TlsNegotiatedProtocolIsMutual,
            Authed = Authed,
            AuthIdentity = AuthIdentity,
            AuthIdentityUrl = AuthIdentityUrl,
            PubCounts = pubCounts,
        };
    }

    /// <summary>
    /// Writes a message frame into the client's output buffer. Called under the channel lock right
    /// after the message was put in flight for this client; must not block.
    /// </summary>
    internal abstract void SendMessage(NsqdMessage message);

    /// <summary>
    /// Called after one or more <see cref="SendMessage"/> calls: flush at once when the client can
    /// take no more (nsqd flushes when a client stops being ready), otherwise within the output
    /// buffer timeout.
    /// </summary>
    internal abstract void MessagesSent(bool stillReady);

    /// <summary>Closes the connection (channel or topic deleted, server stopping).</summary>
    internal abstract void CloseConnection();
}

/// <summary>Per-client figures of nsqd's <c>/stats</c> (field names in nsqd's JSON in the comments).</summary>
internal sealed record NsqdClientStats
{
    /// <summary><c>client_id</c></summary>
    public required string ClientId { get; init; }

    /// <summary><c>hostname</c></summary>
    public required string Hostname { get; init; }

    /// <summary><c>version</c>, always <c>V2</c>.</summary>
    public required string Version { get; init; }

    /// <summary><c>remote_address</c></summary>
    public required string RemoteAddress { get; init; }

    /// <summary><c>state</c> (0 init, 1 disconnected, 2 connected, 3 subscribed, 4 closing).</summary>
    public required int State { get; init; }

    /// <summary><c>ready_count</c></summary>
    public required long ReadyCount { get; init; }

    /// <summary><c>in_flight_count</c></summary>
    public required long InFlightCount { get; init; }

    /// <summary><c>message_count</c></summary>
    public required ulong MessageCount { get; init; }

    /// <summary><c>finish_count</c></summary>
    public required ulong FinishCount { get; init; }

    /// <summary><c>requeue_count</c></summary>
    public required ulong RequeueCount { get; init; }

    /// <summary><c>connect_ts</c> (Unix seconds in nsqd's JSON).</summary>
    public required DateTimeOffset ConnectTime { get; init; }

    /// <summary><c>sample_rate</c></summary>
    public required int SampleRate { get; init; }

    /// <summary><c>deflate</c></summary>
    public required bool Deflate { get; init; }

    /// <summary><c>snappy</c></summary>
    public required bool Snappy { get; init; }

    /// <summary><c>user_agent</c></summary>
    public required string UserAgent { get; init; }

    /// <summary><c>tls</c></summary>
    public required bool Tls { get; init; }

    /// <summary><c>tls_cipher_suite</c></summary>
    public required string TlsCipherSuite { get; init; }

    /// <summary><c>tls_version</c></summary>
    public required string TlsVersion { get; init; }

    /// <summary><c>tls_negotiated_protocol</c></summary>
    public required string TlsNegotiatedProtocol { get; init; }

    /// <summary><c>tls_negotiated_protocol_is_mutual</c></summary>
    public required bool TlsNegotiatedProtocolIsMutual { get; init; }

    /// <summary><c>authed</c></summary>
    public bool Authed { get; init; }

    /// <summary><c>auth_identity</c></summary>
    public string? AuthIdentity { get; init; }

    /// <summary><c>auth_identity_url</c></summary>
    public string? AuthIdentityUrl { get; init; }

    /// <summary><c>pub_counts</c>: messages published per topic (only producers have entries).</summary>
    public required IReadOnlyList<KeyValuePair<string, ulong>> PubCounts { get; init; }
}
