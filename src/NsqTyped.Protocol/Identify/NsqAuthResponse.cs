using System.Text.Json;
using System.Text.Json.Serialization;

namespace NsqTyped.Protocol;

/// <summary>nsqd's answer to a successful AUTH.</summary>
public sealed record NsqAuthResponse
{
    /// <summary>The identity the auth server assigned to the secret.</summary>
    [JsonPropertyName("identity")]
    public string Identity { get; init; } = "";

    /// <summary>A URL describing the identity (may be empty).</summary>
    [JsonPropertyName("identity_url")]
    public string IdentityUrl { get; init; } = "";

    /// <summary>How many topic/channel authorizations the identity has.</summary>
    [JsonPropertyName("permission_count")]
    public int PermissionCount { get; init; }

    /// <summary>Parses the JSON data of an AUTH response frame.</summary>
    /// <exception cref="NsqProtocolException">The data is not a valid AUTH response.</exception>
    public static NsqAuthResponse Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, NsqProtocolJsonContext.Default.NsqAuthResponse)
                ?? throw new NsqProtocolException("AUTH response is JSON null.");
        }
        catch (JsonException ex)
        {
            throw new NsqProtocolException("AUTH response is not valid JSON.", ex);
        }
    }

    /// <summary>Serializes the response as nsqd does (used by the embedded server).</summary>
    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, NsqProtocolJsonContext.Default.NsqAuthResponse);
}
