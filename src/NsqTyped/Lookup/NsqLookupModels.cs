using System.Text.Json.Serialization;

namespace NsqTyped;

/// <summary>The answer of <c>GET /lookup?topic=...</c>: the nsqd instances that have a topic, and its channels.</summary>
public sealed record NsqLookupResult
{
    /// <summary>The answer for a topic nsqlookupd does not know: no channels, no producers.</summary>
    public static NsqLookupResult Empty { get; } = new();

    /// <summary>Channels registered for the topic.</summary>
    [JsonPropertyName("channels")]
    public IReadOnlyList<string> Channels { get; init => field = value ?? []; } = [];

    /// <summary>nsqd instances that have the topic (tombstoned and inactive ones are left out by nsqlookupd).</summary>
    [JsonPropertyName("producers")]
    public IReadOnlyList<NsqLookupProducer> Producers { get; init => field = value ?? []; } = [];
}

/// <summary>An nsqd instance registered with nsqlookupd.</summary>
public record NsqLookupProducer
{
    /// <summary>The address of nsqd's registration connection as nsqlookupd sees it (<c>ip:port</c>).</summary>
    [JsonPropertyName("remote_address")]
    public string RemoteAddress { get; init; } = "";

    /// <summary>nsqd's host name.</summary>
    [JsonPropertyName("hostname")]
    public string Hostname { get; init; } = "";

    /// <summary>The address consumers should connect to.</summary>
    [JsonPropertyName("broadcast_address")]
    public string BroadcastAddress { get; init; } = "";

    /// <summary>nsqd's TCP port.</summary>
    [JsonPropertyName("tcp_port")]
    public int TcpPort { get; init; }

    /// <summary>nsqd's HTTP port.</summary>
    [JsonPropertyName("http_port")]
    public int HttpPort { get; init; }

    /// <summary>nsqd's version.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init; } = "";

    /// <summary>nsqd's topology zone (newer servers only; null when absent).</summary>
    [JsonPropertyName("topology_zone")]
    public string? TopologyZone { get; init; }

    /// <summary>nsqd's topology region (newer servers only; null when absent).</summary>
    [JsonPropertyName("topology_region")]
    public string? TopologyRegion { get; init; }

    /// <summary>
    /// <c>broadcast_address:tcp_port</c> (IPv6 addresses in brackets): where a consumer connects, and the key
    /// under which consumers merge the answers of several nsqlookupd.
    /// </summary>
    [JsonIgnore]
    public string TcpAddress => JoinHostPort(BroadcastAddress, TcpPort);

    /// <summary><c>broadcast_address:http_port</c> (IPv6 addresses in brackets): nsqd's HTTP API.</summary>
    [JsonIgnore]
    public string HttpAddress => JoinHostPort(BroadcastAddress, HttpPort);

    /// <summary>
    /// The node name nsqlookupd expects in <c>/topic/tombstone</c>: <c>broadcast_address:http_port</c>
    /// exactly as nsqlookupd formats it (no brackets).
    /// </summary>
    [JsonIgnore]
    public string TombstoneNode => BroadcastAddress + ":" + HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string JoinHostPort(string host, int port)
    {
        var portText = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? "[" + host + "]:" + portText : host + ":" + portText;
    }
}

/// <summary>An nsqd instance as listed by <c>GET /nodes</c>: its topics and which of them are tombstoned.</summary>
public sealed record NsqLookupNode : NsqLookupProducer
{
    /// <summary>For each entry of <see cref="Topics"/>, whether this nsqd is tombstoned for that topic.</summary>
    [JsonPropertyName("tombstones")]
    public IReadOnlyList<bool> Tombstones { get; init => field = value ?? []; } = [];

    /// <summary>Topics this nsqd has registered.</summary>
    [JsonPropertyName("topics")]
    public IReadOnlyList<string> Topics { get; init => field = value ?? []; } = [];

    /// <summary>Whether this nsqd is tombstoned for <paramref name="topic"/>.</summary>
    public bool IsTombstoned(string topic)
    {
        for (var i = 0; i < Topics.Count && i < Tombstones.Count; i++)
        {
            if (Topics[i] == topic)
            {
                return Tombstones[i];
            }
        }

        return false;
    }
}

/// <summary>What nsqlookupd reports about itself at <c>GET /info</c>.</summary>
public sealed record NsqLookupdInfo
{
    /// <summary>nsqlookupd's version, e.g. <c>1.3.0</c>.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init; } = "";
}

/// <summary>Wire shape of <c>GET /topics</c>.</summary>
internal sealed record NsqLookupTopicsResponse
{
    [JsonPropertyName("topics")]
    public IReadOnlyList<string> Topics { get; init => field = value ?? []; } = [];
}

/// <summary>Wire shape of <c>GET /channels</c>.</summary>
internal sealed record NsqLookupChannelsResponse
{
    [JsonPropertyName("channels")]
    public IReadOnlyList<string> Channels { get; init => field = value ?? []; } = [];
}

/// <summary>Wire shape of <c>GET /nodes</c>.</summary>
internal sealed record NsqLookupNodesResponse
{
    [JsonPropertyName("producers")]
    public IReadOnlyList<NsqLookupNode> Producers { get; init => field = value ?? []; } = [];
}
