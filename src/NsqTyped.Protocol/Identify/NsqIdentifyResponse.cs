using System.Text.Json;
using System.Text.Json.Serialization;

namespace NsqTyped.Protocol;

/// <summary>
/// nsqd's answer to IDENTIFY with feature negotiation: the settings in force for the connection.
/// Property order is nsqd 1.3.0's key order. Booleans say what the server granted, not what it offers.
/// </summary>
public sealed record NsqIdentifyResponse
{
    /// <summary>Largest RDY count this server accepts (default 2500).</summary>
    [JsonPropertyName("max_rdy_count")]
    public long MaxRdyCount { get; init; } = 2500;

    /// <summary>The server's version, e.g. <c>1.3.0</c>.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init; } = "";

    /// <summary>Longest message timeout (ms) a client may ask for or extend to with TOUCH.</summary>
    [JsonPropertyName("max_msg_timeout")]
    public long MaxMsgTimeout { get; init; }

    /// <summary>The message timeout (ms) in force for this connection.</summary>
    [JsonPropertyName("msg_timeout")]
    public long MsgTimeout { get; init; }

    /// <summary>Whether the server will upgrade to TLS.</summary>
    [JsonPropertyName("tls_v1")]
    public bool TlsV1 { get; init; }

    /// <summary>Whether the server will switch to deflate.</summary>
    [JsonPropertyName("deflate")]
    public bool Deflate { get; init; }

    /// <summary>The deflate level in force.</summary>
    [JsonPropertyName("deflate_level")]
    public int DeflateLevel { get; init; }

    /// <summary>Largest deflate level the server allows.</summary>
    [JsonPropertyName("max_deflate_level")]
    public int MaxDeflateLevel { get; init; }

    /// <summary>Whether the server will switch to snappy.</summary>
    [JsonPropertyName("snappy")]
    public bool Snappy { get; init; }

    /// <summary>The sample rate in force (0 = all messages).</summary>
    [JsonPropertyName("sample_rate")]
    public int SampleRate { get; init; }

    /// <summary>Whether AUTH must be sent before other commands.</summary>
    [JsonPropertyName("auth_required")]
    public bool AuthRequired { get; init; }

    /// <summary>The output buffer size (bytes) in force.</summary>
    [JsonPropertyName("output_buffer_size")]
    public int OutputBufferSize { get; init; }

    /// <summary>The output buffer timeout (ms) in force.</summary>
    [JsonPropertyName("output_buffer_timeout")]
    public long OutputBufferTimeout { get; init; }

    /// <summary>Parses the JSON data of an IDENTIFY response frame.</summary>
    /// <exception cref="NsqProtocolException">The data is not a valid IDENTIFY response.</exception>
    public static NsqIdentifyResponse Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, NsqProtocolJsonContext.Default.NsqIdentifyResponse)
                ?? throw new NsqProtocolException("IDENTIFY response is JSON null.");
        }
        catch (JsonException ex)
        {
            throw new NsqProtocolException("IDENTIFY response is not valid JSON.", ex);
        }
    }

    /// <summary>Serializes the response as nsqd does (used by the embedded server).</summary>
    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, NsqProtocolJsonContext.Default.NsqIdentifyResponse);
}
