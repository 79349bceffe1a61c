using System.Text.Json;
using System.Text.Json.Serialization;

namespace NsqTyped.Protocol;

/// <summary>
/// The JSON body of IDENTIFY (<c>nsqd/client_v2.go</c> identifyDataV2). Properties left
/// <see langword="null"/> are omitted, so nsqd applies its own default.
/// </summary>
public sealed record NsqIdentifyRequest
{
    /// <summary>Identifier shown in nsqd's stats (gnsq: <c>client_id</c>, default short host name).</summary>
    [JsonPropertyName("client_id")]
    public string? ClientId { get; init; }

    /// <summary>Host name shown in nsqd's stats.</summary>
    [JsonPropertyName("hostname")]
    public string? Hostname { get; init; }

    /// <summary>Client library and version, e.g. <c>nsqtyped/0.1.0</c>.</summary>
    [JsonPropertyName("user_agent")]
    public string? UserAgent { get; init; }

    /// <summary>Ask nsqd to answer with its negotiated settings as JSON instead of <c>OK</c>.</summary>
    [JsonPropertyName("feature_negotiation")]
    public bool FeatureNegotiation { get; init; }

    /// <summary>Milliseconds between heartbeats: -1 disables, else 1000..max-heartbeat-interval.</summary>
    [JsonPropertyName("heartbeat_interval")]
    public int? HeartbeatInterval { get; init; }

    /// <summary>Bytes nsqd buffers before flushing to this client: -1 disables, else 64..max-output-buffer-size.</summary>
    [JsonPropertyName("output_buffer_size")]
    public int? OutputBufferSize { get; init; }

    /// <summary>Milliseconds nsqd waits before flushing buffered data: -1 disables, else min..max-output-buffer-timeout.</summary>
    [JsonPropertyName("output_buffer_timeout")]
    public int? OutputBufferTimeout { get; init; }

    /// <summary>Request a TLS upgrade after the IDENTIFY response.</summary>
    [JsonPropertyName("tls_v1")]
    public bool? TlsV1 { get; init; }

    /// <summary>Request Snappy compression (not together with deflate).</summary>
    [JsonPropertyName("snappy")]
    public bool? Snappy { get; init; }

    /// <summary>Request raw deflate compression (not together with snappy).</summary>
    [JsonPropertyName("deflate")]
    public bool? Deflate { get; init; }

    /// <summary>Deflate level 1..9, clamped by nsqd to its max-deflate-level.</summary>
    [JsonPropertyName("deflate_level")]
    public int? DeflateLevel { get; init; }

    /// <summary>Percentage of messages to receive, 0 (all) to 99.</summary>
    [JsonPropertyName("sample_rate")]
    public int? SampleRate { get; init; }

    /// <summary>Server-side message timeout for this client in milliseconds.</summary>
    [JsonPropertyName("msg_timeout")]
    public int? MsgTimeout { get; init; }

    /// <summary>Serializes the request to UTF-8 JSON (source-generated, AOT-safe).</summary>
    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, NsqProtocolJsonContext.Default.NsqIdentifyRequest);
}
