using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace NsqTyped.Testing;

/// <summary>
/// Decides what an AUTH secret may do, in-process, with the semantics of nsqd's auth-server protocol
/// (<c>internal/auth/authorizations.go</c>). Set it as <see cref="EmbeddedNsqdOptions.Authorizer"/>.
/// </summary>
/// <example>
/// <code>
/// sealed class AllowAll : INsqdAuthorizer
/// {
///     public ValueTask&lt;NsqdAuthState?&gt; AuthorizeAsync(NsqdAuthRequest request, CancellationToken cancellationToken = default) =>
///         ValueTask.FromResult&lt;NsqdAuthState?&gt;(new NsqdAuthState
///         {
///             Identity = "tester",
///             Authorizations = [new NsqdAuthorization { Topic = ".*", Channels = [".*"], Permissions = ["publish", "subscribe"] }],
///         });
/// }
/// </code>
/// </example>
public interface INsqdAuthorizer
{
    /// <summary>
    /// Answers an AUTH (and the re-query after the answer's TTL expired). Return <see langword="null"/>
    /// or throw to refuse the secret (the client gets <c>E_AUTH_FAILED</c>); an answer without
    /// authorizations gives <c>E_UNAUTHORIZED</c>.
    /// </summary>
    ValueTask<NsqdAuthState?> AuthorizeAsync(NsqdAuthRequest request, CancellationToken cancellationToken = default);
}

/// <summary>What nsqd tells its auth server about an AUTH (the query parameters of <c>GET /auth</c>).</summary>
public sealed record NsqdAuthRequest
{
    /// <summary>The secret the client sent in AUTH.</summary>
    public required string Secret { get; init; }

    /// <summary>The client's IP address.</summary>
    public required string RemoteIp { get; init; }

    /// <summary>Whether the connection was upgraded to TLS.</summary>
    public bool Tls { get; init; }

    /// <summary>The common name of the client certificate, or empty.</summary>
    public string CommonName { get; init; } = "";
}

/// <summary>An auth server's answer: who the client is and what it may do, for how long.</summary>
public sealed record NsqdAuthState
{
    /// <summary>Seconds the answer stays valid; nsqd refuses answers with a TTL of 0 or less.</summary>
    [JsonPropertyName("ttl")]
    public int Ttl { get; init; } = 3600;

    /// <summary>The identity reported back to the client and in stats.</summary>
    [JsonPropertyName("identity")]
    public string Identity { get; init; } = "";

    /// <summary>A URL describing the identity.</summary>
    [JsonPropertyName("identity_url")]
    public string IdentityUrl { get; init; } = "";

    /// <summary>Topic/channel patterns and the permissions granted on them.</summary>
    [JsonPropertyName("authorizations")]
    public IReadOnlyList<NsqdAuthorization> Authorizations { get; init; } = [];
}

/// <summary>One grant: a topic regular expression, channel regular expressions and permissions.</summary>
public sealed record NsqdAuthorization
{
    /// <summary>Regular expression (unanchored, as Go's MatchString) matched against the topic.</summary>
    [JsonPropertyName("topic")]
    public string Topic { get; init; } = "";

    /// <summary>Regular expressions matched against the channel (SUB); any match grants.</summary>
    [JsonPropertyName("channels")]
    public IReadOnlyList<string> Channels { get; init; } = [];

    /// <summary><c>publish</c> and/or <c>subscribe</c>.</summary>
    [JsonPropertyName("permissions")]
    public IReadOnlyList<string> Permissions { get; init; } = [];

    /// <summary>
    /// nsqd's rule: SUB needs <c>subscribe</c> (channel not empty), PUB needs <c>publish</c>; the topic
    /// pattern must match, and one channel pattern must match the channel (the empty channel for PUB).
    /// </summary>
    public bool IsAllowed(string topic, string channel)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(channel);
        var needed = channel.Length > 0 ? "subscribe" : "publish";
        if (!Permissions.Contains(needed))
        {
            return false;
        }

        if (!Regex.IsMatch(topic, Topic, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)))
        {
            return false;
        }

        foreach (var pattern in Channels)
        {
            if (Regex.IsMatch(channel, pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)))
            {
                return true;
            }
        }

        return false;
    }
}
