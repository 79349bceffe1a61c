using System.Text.Json.Serialization;

namespace NsqTyped;

/// <summary>What nsqd reports about itself at <c>GET /info</c>.</summary>
public sealed record NsqdInfo
{
    /// <summary>nsqd's version, e.g. <c>1.3.0</c>.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init; } = "";

    /// <summary>The address nsqd announces to nsqlookupd and consumers.</summary>
    [JsonPropertyName("broadcast_address")]
    public string BroadcastAddress { get; init; } = "";

    /// <summary>The host name of nsqd's machine.</summary>
    [JsonPropertyName("hostname")]
    public string Hostname { get; init; } = "";

    /// <summary>The HTTP port.</summary>
    [JsonPropertyName("http_port")]
    public int HttpPort { get; init; }

    /// <summary>The TCP port clients connect to.</summary>
    [JsonPropertyName("tcp_port")]
    public int TcpPort { get; init; }

    /// <summary>Start time as Unix seconds.</summary>
    [JsonPropertyName("start_time")]
    public long StartTimeUnixSeconds { get; init; }

    /// <summary>Largest heartbeat interval a client may ask for, in nanoseconds (Go duration).</summary>
    [JsonPropertyName("max_heartbeat_interval")]
    public long MaxHeartbeatIntervalNanoseconds { get; init; }

    /// <summary>Largest output buffer a client may ask for, in bytes.</summary>
    [JsonPropertyName("max_output_buffer_size")]
    public long MaxOutputBufferSize { get; init; }

    /// <summary>Largest output buffer timeout a client may ask for, in nanoseconds (Go duration).</summary>
    [JsonPropertyName("max_output_buffer_timeout")]
    public long MaxOutputBufferTimeoutNanoseconds { get; init; }

    /// <summary>Highest deflate level a client may ask for.</summary>
    [JsonPropertyName("max_deflate_level")]
    public int MaxDeflateLevel { get; init; }

    /// <summary>The topology zone nsqd was started with (newer nsqd only; null when absent).</summary>
    [JsonPropertyName("topology_zone")]
    public string? TopologyZone { get; init; }

    /// <summary>The topology region nsqd was started with (newer nsqd only; null when absent).</summary>
    [JsonPropertyName("topology_region")]
    public string? TopologyRegion { get; init; }

    /// <summary>When nsqd started.</summary>
    [JsonIgnore]
    public DateTimeOffset StartTime => DateTimeOffset.FromUnixTimeSeconds(StartTimeUnixSeconds);

    /// <summary><see cref="MaxHeartbeatIntervalNanoseconds"/> as a <see cref="TimeSpan"/>.</summary>
    [JsonIgnore]
    public TimeSpan MaxHeartbeatInterval => NsqDurations.FromNanoseconds(MaxHeartbeatIntervalNanoseconds);

    /// <summary><see cref="MaxOutputBufferTimeoutNanoseconds"/> as a <see cref="TimeSpan"/>.</summary>
    [JsonIgnore]
    public TimeSpan MaxOutputBufferTimeout => NsqDurations.FromNanoseconds(MaxOutputBufferTimeoutNanoseconds);
}

internal static class NsqDurations
{
    public static TimeSpan FromNanoseconds(long nanoseconds) => TimeSpan.FromTicks(nanoseconds / TimeSpan.NanosecondsPerTick);
}
