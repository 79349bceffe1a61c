using System.Text.Json.Serialization;

namespace NsqTyped;

/// <summary>nsqd's statistics (<c>GET /stats?format=json</c>).</summary>
/// <remarks>
/// nsqd writes <c>null</c> instead of an empty array in several places (<c>topics</c> for an unknown
/// topic filter, <c>producers</c> without producers, <c>clients</c> with <c>include_clients=false</c>);
/// those lists are empty here, never null.
/// </remarks>
public sealed record NsqdStats
{
    /// <summary>nsqd's version.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init; } = "";

    /// <summary><c>OK</c>, or the reason nsqd is unhealthy (e.g. a disk write failure).</summary>
    [JsonPropertyName("health")]
    public string Health { get; init; } = "";

    /// <summary>Start time as Unix seconds.</summary>
    [JsonPropertyName("start_time")]
    public long StartTimeUnixSeconds { get; init; }

    /// <summary>Topics (only the filtered one when a topic was given).</summary>
    [JsonPropertyName("topics")]
    public IReadOnlyList<NsqdTopicStats> Topics { get; init => field = value ?? []; } = [];

    /// <summary>Runtime memory figures; null when requested with <c>includeMemory: false</c>.</summary>
    [JsonPropertyName("memory")]
    public NsqdMemoryStats? Memory { get; init; }

    /// <summary>Clients that published (TCP connections only), with their per-topic counts.</summary>
    [JsonPropertyName("producers")]
    public IReadOnlyList<NsqdClientStats> Producers { get; init => field = value ?? []; } = [];

    /// <summary>When nsqd started.</summary>
    [JsonIgnore]
    public DateTimeOffset StartTime => DateTimeOffset.FromUnixTimeSeconds(StartTimeUnixSeconds);

    /// <summary>The statistics of a topic, or null when it is not listed.</summary>
    public NsqdTopicStats? FindTopic(string topic)
    {
        foreach (var t in Topics)
        {
            if (t.TopicName == topic)
            {
                return t;
            }
        }

        return null;
    }
}

/// <summary>Statistics of one topic.</summary>
public sealed record NsqdTopicStats
{
    /// <summary>The topic name.</summary>
    [JsonPropertyName("topic_name")]
    public string TopicName { get; init; } = "";

    /// <summary>The topic's channels.</summary>
    [JsonPropertyName("channels")]
    public IReadOnlyList<NsqdChannelStats> Channels { get; init => field = value ?? []; } = [];

    /// <summary>Messages waiting in the topic (memory and disk) before being copied to channels.</summary>
    [JsonPropertyName("depth")]
    public long Depth { get; init; }

    /// <summary>The part of <see cref="Depth"/> held on disk.</summary>
    [JsonPropertyName("backend_depth")]
    public long BackendDepth { get; init; }

    /// <summary>Messages published to the topic since it was created.</summary>
    [JsonPropertyName("message_count")]
    public long MessageCount { get; init; }

    /// <summary>Bytes published to the topic since it was created.</summary>
    [JsonPropertyName("message_bytes")]
    public long MessageBytes { get; init; }

    /// <summary>Whether the topic is paused (messages are kept, not copied to channels).</summary>
    [JsonPropertyName("paused")]
    public bool Paused { get; init; }

    /// <summary>End-to-end processing latency percentiles (only with <c>--e2e-processing-latency-percentile</c>).</summary>
    [JsonPropertyName("e2e_processing_latency")]
    public NsqdLatencyStats E2eProcessingLatency { get; init => field = value ?? NsqdLatencyStats.Empty; } = NsqdLatencyStats.Empty;

    /// <summary>The statistics of a channel, or null when it is not listed.</summary>
    public NsqdChannelStats? FindChannel(string channel)
    {
        foreach (var c in Channels)
        {
            if (c.ChannelName == channel)
            {
                return c;
            }
        }

        return null;
    }
}

/// <summary>Statistics of one channel.</summary>
public sealed record NsqdChannelStats
{
    /// <summary>The channel name.</summary>
    [JsonPropertyName("channel_name")]
    public string ChannelName { get; init; } = "";

    /// <summary>Messages waiting for delivery (memory and disk), not counting in-flight and deferred ones.</summary>
    [JsonPropertyName("depth")]
    public long Depth { get; init; }

    /// <summary>The part of <see cref="Depth"/> held on disk.</summary>
    [JsonPropertyName("backend_depth")]
    public long BackendDepth { get; init; }

    /// <summary>Messages delivered and not yet finished, requeued or timed out.</summary>
    [JsonPropertyName("in_flight_count")]
    public long InFlightCount { get; init; }

    /// <summary>Messages waiting for their deferral or requeue delay.</summary>
    [JsonPropertyName("deferred_count")]
    public long DeferredCount { get; init; }

    /// <summary>Messages that entered the channel since it was created.</summary>
    [JsonPropertyName("message_count")]
    public long MessageCount { get; init; }

    /// <summary>Messages requeued by consumers.</summary>
    [JsonPropertyName("requeue_count")]
    public long RequeueCount { get; init; }

    /// <summary>Messages that timed out in flight.</summary>
    [JsonPropertyName("timeout_count")]
    public long TimeoutCount { get; init; }

    /// <summary>Connected consumers (also counted when clients are not included).</summary>
    [JsonPropertyName("client_count")]
    public int ClientCount { get; init; }

    /// <summary>The consumers; empty when requested with <c>includeClients: false</c>.</summary>
    [JsonPropertyName("clients")]
    public IReadOnlyList<NsqdClientStats> Clients { get; init => field = value ?? []; } = [];

    /// <summary>Whether the channel is paused (nothing is delivered).</summary>
    [JsonPropertyName("paused")]
    public bool Paused { get; init; }

    /// <summary>End-to-end processing latency percentiles (only with <c>--e2e-processing-latency-percentile</c>).</summary>
    [JsonPropertyName("e2e_processing_latency")]
    public NsqdLatencyStats E2eProcessingLatency { get; init => field = value ?? NsqdLatencyStats.Empty; } = NsqdLatencyStats.Empty;
}

/// <summary>Statistics of one TCP client: a consumer under a channel, or a producer.</summary>
public sealed record NsqdClientStats
{
    /// <summary>The client_id the client sent in IDENTIFY.</summary>
    [JsonPropertyName("client_id")]
    public string ClientId { get; init; } = "";

    /// <summary>The hostname the client sent in IDENTIFY.</summary>
    [JsonPropertyName("hostname")]
    public string Hostname { get; init; } = "";

    /// <summary>Protocol version, <c>V2</c>.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init; } = "";

    /// <summary>The client's address as nsqd sees it (<c>ip:port</c>).</summary>
    [JsonPropertyName("remote_address")]
    public string RemoteAddress { get; init; } = "";

    /// <summary>nsqd's connection state: 0 init, 1 disconnected, 2 connected, 3 subscribed, 4 closing.</summary>
    [JsonPropertyName("state")]
    public int State { get; init; }

    /// <summary>The client's current RDY count.</summary>
    [JsonPropertyName("ready_count")]
    public long ReadyCount { get; init; }

    /// <summary>Messages in flight to this client.</summary>
    [JsonPropertyName("in_flight_count")]
    public long InFlightCount { get; init; }

    /// <summary>Messages delivered to this client.</summary>
    [JsonPropertyName("message_count")]
    public long MessageCount { get; init; }

    /// <summary>Messages this client finished.</summary>
    [JsonPropertyName("finish_count")]
    public long FinishCount { get; init; }

    /// <summary>Messages this client requeued.</summary>
    [JsonPropertyName("requeue_count")]
    public long RequeueCount { get; init; }

    /// <summary>Connect time as Unix seconds.</summary>
    [JsonPropertyName("connect_ts")]
    public long ConnectTimeUnixSeconds { get; init; }

    /// <summary>The negotiated sample rate (0 = all messages).</summary>
    [JsonPropertyName("sample_rate")]
    public int SampleRate { get; init; }

    /// <summary>Whether the connection uses deflate.</summary>
    [JsonPropertyName("deflate")]
    public bool Deflate { get; init; }

    /// <summary>Whether the connection uses snappy.</summary>
    [JsonPropertyName("snappy")]
    public bool Snappy { get; init; }

    /// <summary>The user_agent the client sent in IDENTIFY.</summary>
    [JsonPropertyName("user_agent")]
    public string UserAgent { get; init; } = "";

    /// <summary>Whether the client authenticated (only reported when true).</summary>
    [JsonPropertyName("authed")]
    public bool Authed { get; init; }

    /// <summary>The identity the auth server assigned (only reported when set).</summary>
    [JsonPropertyName("auth_identity")]
    public string? AuthIdentity { get; init; }

    /// <summary>The identity URL the auth server assigned (only reported when set).</summary>
    [JsonPropertyName("auth_identity_url")]
    public string? AuthIdentityUrl { get; init; }

    /// <summary>Messages published per topic (producers only; nsqd 1.3.0 lists at most one topic).</summary>
    [JsonPropertyName("pub_counts")]
    public IReadOnlyList<NsqdPubCount> PubCounts { get; init => field = value ?? []; } = [];

    /// <summary>Whether the connection uses TLS.</summary>
    [JsonPropertyName("tls")]
    public bool Tls { get; init; }

    /// <summary>The TLS cipher suite, empty without TLS.</summary>
    [JsonPropertyName("tls_cipher_suite")]
    public string TlsCipherSuite { get; init; } = "";

    /// <summary>The TLS version, empty without TLS.</summary>
    [JsonPropertyName("tls_version")]
    public string TlsVersion { get; init; } = "";

    /// <summary>The ALPN protocol negotiated over TLS, usually empty.</summary>
    [JsonPropertyName("tls_negotiated_protocol")]
    public string TlsNegotiatedProtocol { get; init; } = "";

    /// <summary>Whether the ALPN protocol was mutually agreed.</summary>
    [JsonPropertyName("tls_negotiated_protocol_is_mutual")]
    public bool TlsNegotiatedProtocolIsMutual { get; init; }

    /// <summary>When the client connected.</summary>
    [JsonIgnore]
    public DateTimeOffset ConnectTime => DateTimeOffset.FromUnixTimeSeconds(ConnectTimeUnixSeconds);
}

/// <summary>Messages a producer published to one topic.</summary>
public sealed record NsqdPubCount
{
    /// <summary>The topic.</summary>
    [JsonPropertyName("topic")]
    public string Topic { get; init; } = "";

    /// <summary>Messages published to it over this connection.</summary>
    [JsonPropertyName("count")]
    public long Count { get; init; }
}

/// <summary>End-to-end processing latency of a topic or channel.</summary>
public sealed record NsqdLatencyStats
{
    internal static readonly NsqdLatencyStats Empty = new();

    /// <summary>Samples taken.</summary>
    [JsonPropertyName("count")]
    public long Count { get; init; }

    /// <summary>The configured percentiles; empty unless nsqd runs with <c>--e2e-processing-latency-percentile</c>.</summary>
    [JsonPropertyName("percentiles")]
    public IReadOnlyList<NsqdLatencyPercentile> Percentiles { get; init => field = value ?? []; } = [];
}

/// <summary>One percentile of the end-to-end processing latency.</summary>
public sealed record NsqdLatencyPercentile
{
    /// <summary>The quantile, e.g. 0.99.</summary>
    [JsonPropertyName("quantile")]
    public double Quantile { get; init; }

    /// <summary>The latency at that quantile in nanoseconds.</summary>
    [JsonPropertyName("value")]
    public double ValueNanoseconds { get; init; }

    /// <summary><see cref="ValueNanoseconds"/> as a <see cref="TimeSpan"/>.</summary>
    [JsonIgnore]
    public TimeSpan Value => TimeSpan.FromTicks((long)(ValueNanoseconds / TimeSpan.NanosecondsPerTick));
}

/// <summary>nsqd's Go runtime memory figures.</summary>
public sealed record NsqdMemoryStats
{
    /// <summary>Allocated heap objects.</summary>
    [JsonPropertyName("heap_objects")]
    public long HeapObjects { get; init; }

    /// <summary>Bytes in idle heap spans.</summary>
    [JsonPropertyName("heap_idle_bytes")]
    public long HeapIdleBytes { get; init; }

    /// <summary>Bytes in in-use heap spans.</summary>
    [JsonPropertyName("heap_in_use_bytes")]
    public long HeapInUseBytes { get; init; }

    /// <summary>Bytes returned to the operating system.</summary>
    [JsonPropertyName("heap_released_bytes")]
    public long HeapReleasedBytes { get; init; }

    /// <summary>Longest GC pause in microseconds.</summary>
    [JsonPropertyName("gc_pause_usec_100")]
    public long GcPauseMicroseconds100 { get; init; }

    /// <summary>99th percentile GC pause in microseconds.</summary>
    [JsonPropertyName("gc_pause_usec_99")]
    public long GcPauseMicroseconds99 { get; init; }

    /// <summary>95th percentile GC pause in microseconds.</summary>
    [JsonPropertyName("gc_pause_usec_95")]
    public long GcPauseMicroseconds95 { get; init; }

    /// <summary>Heap size that triggers the next GC.</summary>
    [JsonPropertyName("next_gc_bytes")]
    public long NextGcBytes { get; init; }

    /// <summary>Completed GC cycles.</summary>
    [JsonPropertyName("gc_total_runs")]
    public long GcTotalRuns { get; init; }
}
