using System.Globalization;
using NsqTyped.Internal.Http;
using NsqTyped.Protocol;

namespace NsqTyped;

/// <summary>
/// Client of one nsqlookupd's HTTP API: discovery (<c>/lookup</c>, <c>/topics</c>, <c>/channels</c>, <c>/nodes</c>)
/// and registry administration; gnsq's <c>Lookupd</c>.
/// </summary>
/// <remarks>
/// <para>Looking up a topic nsqlookupd does not know returns <see cref="NsqLookupResult.Empty"/> (nsqlookupd
/// answers 404 <c>TOPIC_NOT_FOUND</c>, which means "no producers yet", not a failure). Other error answers throw
/// <see cref="NsqHttpException"/>. Answers of servers older than 1.0 (wrapped in
/// <c>{"status_code","status_txt","data"}</c>) are unwrapped transparently.</para>
/// <para>Instances are thread-safe. An injected <see cref="HttpClient"/> is used as is and not disposed.</para>
/// </remarks>
/// <example>
/// <code>
/// using var lookupd = new LookupdClient(new Uri("http://127.0.0.1:4161"));
/// var result = await lookupd.LookupAsync("orders");
/// foreach (var producer in result.Producers)
///     Console.WriteLine(producer.TcpAddress);   // connect a consumer here
/// </code>
/// </example>
public sealed class LookupdClient : IDisposable
{
    private const string TopicNotFound = "TOPIC_NOT_FOUND";

    private readonly NsqHttpTransport _transport;

    /// <summary>Creates a client for the nsqlookupd HTTP API at <paramref name="baseAddress"/> (e.g. <c>http://127.0.0.1:4161/</c>).</summary>
    /// <param name="baseAddress">Absolute http or https address of nsqlookupd's HTTP listener, optionally with a path prefix.</param>
    /// <param name="httpClient">The client to send with; null creates one owned by this instance.</param>
    /// <param name="requestTimeout">Time allowed for one request (default 60 s); <see cref="Timeout.InfiniteTimeSpan"/> disables it.</param>
    /// <exception cref="ArgumentException">The address is not an absolute http(s) address, or the timeout is not positive.</exception>
    public LookupdClient(Uri baseAddress, HttpClient? httpClient = null, TimeSpan? requestTimeout = null)
    {
        _transport = new NsqHttpTransport(baseAddress, httpClient, requestTimeout ?? TimeSpan.FromSeconds(60), nameof(baseAddress));
    }

    /// <summary>Creates a client from an address such as <c>127.0.0.1:4161</c> (plain HTTP) or <c>http://lookupd:4161/</c>.</summary>
    /// <param name="address"><c>host:port</c> or an absolute http(s) URL.</param>
    /// <param name="httpClient">The client to send with; null creates one owned by this instance.</param>
    /// <param name="requestTimeout">Time allowed for one request (default 60 s); <see cref="Timeout.InfiniteTimeSpan"/> disables it.</param>
    /// <exception cref="ArgumentException">The address is empty or not an HTTP address.</exception>
    public LookupdClient(string address, HttpClient? httpClient = null, TimeSpan? requestTimeout = null)
        : this(NsqHttpTransport.ParseAddress(address, nameof(address)), httpClient, requestTimeout)
    {
    }

    /// <summary>The base address requests are sent to (always ending in <c>/</c>).</summary>
    public Uri BaseAddress => _transport.BaseAddress;

    /// <summary>Disposes the <see cref="HttpClient"/> if this instance created it (later calls then throw <see cref="ObjectDisposedException"/>).</summary>
    public void Dispose() => _transport.Dispose();

    /// <summary>Finds the nsqd instances that have <paramref name="topic"/>, and its channels (<c>GET /lookup</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The producers and channels; <see cref="NsqLookupResult.Empty"/> when nsqlookupd does not know the topic.</returns>
    /// <exception cref="ArgumentException">Invalid topic name.</exception>
    public async ValueTask<NsqLookupResult> LookupAsync(string topic, CancellationToken cancellationToken = default)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        try
        {
            return await _transport.SendJsonAsync(HttpMethod.Get, NsqHttpPath.Build("lookup", ("topic", topic)), NsqHttpJsonContext.Default.NsqLookupResult, cancellationToken).ConfigureAwait(false);
        }
        catch (NsqHttpException ex) when (ex.NsqCode == TopicNotFound)
        {
            return NsqLookupResult.Empty;
        }
    }

    /// <summary>Lists every topic nsqlookupd knows (<c>GET /topics</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    public async ValueTask<IReadOnlyList<string>> TopicsAsync(CancellationToken cancellationToken = default)
    {
        var response = await _transport.SendJsonAsync(HttpMethod.Get, "topics", NsqHttpJsonContext.Default.NsqLookupTopicsResponse, cancellationToken).ConfigureAwait(false);
        return response.Topics;
    }

    /// <summary>Lists the channels of a topic (<c>GET /channels</c>); empty for an unknown topic.</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="ArgumentException">Invalid topic name.</exception>
    public async ValueTask<IReadOnlyList<string>> ChannelsAsync(string topic, CancellationToken cancellationToken = default)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        var response = await _transport.SendJsonAsync(HttpMethod.Get, NsqHttpPath.Build("channels", ("topic", topic)), NsqHttpJsonContext.Default.NsqLookupChannelsResponse, cancellationToken).ConfigureAwait(false);
        return response.Channels;
    }

    /// <summary>Lists every registered nsqd with its topics and tombstones (<c>GET /nodes</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    public async ValueTask<IReadOnlyList<NsqLookupNode>> NodesAsync(CancellationToken cancellationToken = default)
    {
        var response = await _transport.SendJsonAsync(HttpMethod.Get, "nodes", NsqHttpJsonContext.Default.NsqLookupNodesResponse, cancellationToken).ConfigureAwait(false);
        return response.Producers;
    }

    /// <summary>Registers a topic without producers (<c>POST /topic/create</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    public ValueTask CreateTopicAsync(string topic, CancellationToken cancellationToken = default)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        return _transport.SendCommandAsync(HttpMethod.Post, NsqHttpPath.Build("topic/create", ("topic", topic)), null, cancellationToken);
    }

    /// <summary>Removes a topic and its channels from the registry (<c>POST /topic/delete</c>); unknown topics succeed.</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <remarks>nsqd instances that still have the topic register it again; delete it on them too (or tombstone first).</remarks>
    public ValueTask DeleteTopicAsync(string topic, CancellationToken cancellationToken = default)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        return _transport.SendCommandAsync(HttpMethod.Post, NsqHttpPath.Build("topic/delete", ("topic", topic)), null, cancellationToken);
    }

    /// <summary>Registers a channel without producers (<c>POST /channel/create</c>); the topic need not exist.</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="channel">A valid channel name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    public ValueTask CreateChannelAsync(string topic, string channel, CancellationToken cancellationToken = default)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        NsqNames.ThrowIfInvalidChannel(channel);
        return _transport.SendCommandAsync(HttpMethod.Post, NsqHttpPath.Build("channel/create", ("topic", topic), ("channel", channel)), null, cancellationToken);
    }

    /// <summary>Removes a channel from the registry (<c>POST /channel/delete</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="channel">A valid channel name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NsqHttpException">404 <c>CHANNEL_NOT_FOUND</c>.</exception>
    public ValueTask DeleteChannelAsync(string topic, string channel, CancellationToken cancellationToken = default)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        NsqNames.ThrowIfInvalidChannel(channel);
        return _transport.SendCommandAsync(HttpMethod.Post, NsqHttpPath.Build("channel/delete", ("topic", topic), ("channel", channel)), null, cancellationToken);
    }

    /// <summary>
    /// Hides one nsqd from <c>/lookup</c> of a topic for nsqlookupd's tombstone lifetime (45 s by default)
    /// while the topic is deleted on that nsqd (<c>POST /topic/tombstone</c>).
    /// </summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="node">
    /// The nsqd as <c>broadcast_address:http_port</c> (see <see cref="NsqLookupProducer.TombstoneNode"/>). nsqlookupd
    /// silently ignores a node it does not know, e.g. one given with the TCP port.
    /// </param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="ArgumentException">Invalid topic, or <paramref name="node"/> is not <c>host:port</c>.</exception>
    public ValueTask TombstoneTopicProducerAsync(string topic, string node, CancellationToken cancellationToken = default)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        ValidateNode(node);
        return _transport.SendCommandAsync(HttpMethod.Post, NsqHttpPath.Build("topic/tombstone", ("topic", topic), ("node", node)), null, cancellationToken);
    }

    /// <summary>Tombstones a producer found by <see cref="LookupAsync"/> or <see cref="NodesAsync"/> for a topic.</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="producer">The nsqd to hide.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    public ValueTask TombstoneTopicProducerAsync(string topic, NsqLookupProducer producer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(producer);
        return TombstoneTopicProducerAsync(topic, producer.TombstoneNode, cancellationToken);
    }

    /// <summary>Checks nsqlookupd is up (<c>GET /ping</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    public ValueTask PingAsync(CancellationToken cancellationToken = default) =>
        _transport.SendCommandAsync(HttpMethod.Get, "ping", null, cancellationToken);

    /// <summary>Reads nsqlookupd's version (<c>GET /info</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    public ValueTask<NsqLookupdInfo> InfoAsync(CancellationToken cancellationToken = default) =>
        _transport.SendJsonAsync(HttpMethod.Get, "info", NsqHttpJsonContext.Default.NsqLookupdInfo, cancellationToken);

    private static void ValidateNode(string node)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(node);
        var colon = node.LastIndexOf(':');
        if (colon <= 0
            || !int.TryParse(node.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535
            || node.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException($"'{node}' is not a node of the form broadcast_address:http_port.", nameof(node));
        }
    }
}
