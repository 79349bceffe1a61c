using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using NsqTyped.Internal;
using NsqTyped.Internal.Http;
using NsqTyped.Protocol;

namespace NsqTyped;

/// <summary>
/// Client of one nsqd's HTTP API (<c>/pub</c>, <c>/mpub</c>, topic and channel administration, <c>/stats</c>,
/// <c>/info</c>, <c>/ping</c>, <c>/config</c>): gnsq's <c>Nsqd</c> HTTP methods.
/// </summary>
/// <remarks>
/// <para>Names and bodies are validated before anything is sent (<see cref="ArgumentException"/>). Error answers
/// throw <see cref="NsqHttpException"/> with the HTTP status and NSQ code; a failed connection throws
/// <see cref="NsqConnectionException"/>, an expired <see cref="NsqdHttpClientOptions.RequestTimeout"/>
/// <see cref="NsqTimeoutException"/>, the caller's token <see cref="OperationCanceledException"/>.</para>
/// <para>Instances are thread-safe. An injected <see cref="HttpClient"/> is used as is and not disposed.</para>
/// </remarks>
/// <example>
/// <code>
/// using var nsqd = new NsqdHttpClient(new Uri("http://127.0.0.1:4151"));
/// await nsqd.PublishAsync("orders", "hello"u8.ToArray());
/// var stats = await nsqd.StatsAsync(topic: "orders");
/// Console.WriteLine(stats.FindTopic("orders")?.Depth);
/// </code>
/// </example>
public sealed class NsqdHttpClient : INsqPublisher, IDisposable
{
    private readonly NsqHttpTransport _transport;

    /// <summary>Creates a client for the nsqd HTTP API at <paramref name="baseAddress"/> (e.g. <c>http://127.0.0.1:4151/</c>).</summary>
    /// <param name="baseAddress">Absolute http or https address of nsqd's HTTP listener, optionally with a path prefix.</param>
    /// <param name="httpClient">The client to send with (e.g. from <c>IHttpClientFactory</c>); null creates one owned by this instance.</param>
    /// <param name="options">Size limits and timeout; null for <see cref="NsqdHttpClientOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">The address is not an absolute http(s) address, or an option is out of range, or
    /// <see cref="NsqdHttpClientOptions.Tls"/> is enabled with an http:// address or an injected <paramref name="httpClient"/>.</exception>
    public NsqdHttpClient(Uri baseAddress, HttpClient? httpClient = null, NsqdHttpClientOptions? options = null)
    {
        Options = options ?? NsqdHttpClientOptions.Default;
        Options.Validate(nameof(options));
        _transport = new NsqHttpTransport(baseAddress, httpClient, Options.RequestTimeout, nameof(baseAddress), Options.Tls);
    }

    /// <summary>Creates a client from an address such as <c>127.0.0.1:4151</c> (plain HTTP) or <c>https://nsqd:4152/</c>.</summary>
    /// <param name="address"><c>host:port</c> or an absolute http(s) URL.</param>
    /// <param name="httpClient">The client to send with; null creates one owned by this instance.</param>
    /// <param name="options">Size limits and timeout; null for <see cref="NsqdHttpClientOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">The address is empty or not an HTTP address.</exception>
    public NsqdHttpClient(string address, HttpClient? httpClient = null, NsqdHttpClientOptions? options = null)
        : this(NsqHttpTransport.ParseAddress(address, nameof(address)), httpClient, options)
    {
    }

    /// <summary>The base address requests are sent to (always ending in <c>/</c>).</summary>
    public Uri BaseAddress => _transport.BaseAddress;

    /// <summary>The limits and timeout in effect.</summary>
    public NsqdHttpClientOptions Options { get; }

    /// <summary>Disposes the <see cref="HttpClient"/> if this instance created it (later calls then throw <see cref="ObjectDisposedException"/>).</summary>
    public void Dispose() => _transport.Dispose();

    /// <summary>Checks nsqd's health (<c>GET /ping</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NsqHttpException">nsqd is unhealthy (500 <c>NOK - reason</c>, see <see cref="NsqHttpException.ResponseBody"/>).</exception>
    public ValueTask PingAsync(CancellationToken cancellationToken = default) =>
        _transport.SendCommandAsync(HttpMethod.Get, "ping", null, cancellationToken);

    /// <summary>Reads nsqd's version, addresses, ports and limits (<c>GET /info</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    public ValueTask<NsqdInfo> InfoAsync(CancellationToken cancellationToken = default) =>
        _transport.SendJsonAsync(HttpMethod.Get, "info", NsqHttpJsonContext.Default.NsqdInfo, cancellationToken);

    /// <summary>Publishes one message (<c>POST /pub</c>).</summary>
    /// <param name="topic">A valid topic name (created on first publish).</param>
    /// <param name="body">A non-empty body of at most <see cref="NsqdHttpClientOptions.MaxMessageSize"/> bytes.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="ArgumentException">Invalid topic, empty or oversized body.</exception>
    /// <exception cref="NsqHttpException">nsqd refused the message (e.g. 413 <c>MSG_TOO_BIG</c>).</exception>
    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
        PublishAsync(topic, body, defer: null, cancellationToken);

    /// <summary>Publishes one message, delivered after <paramref name="defer"/> when given (<c>POST /pub?defer=ms</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="body">A non-empty body of at most <see cref="NsqdHttpClientOptions.MaxMessageSize"/> bytes.</param>
    /// <param name="defer">Delay before delivery (whole milliseconds, at most nsqd's <c>--max-req-timeout</c>), or null to deliver at once.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="ArgumentException">Invalid topic, empty or oversized body.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="defer"/> is negative or above <see cref="NsqdHttpClientOptions.MaxReqTimeout"/>.</exception>
    /// <exception cref="NsqHttpException">nsqd refused the message (e.g. 400 <c>INVALID_DEFER</c> beyond the server's maximum).</exception>
    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan? defer, CancellationToken cancellationToken = default)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        ValidateMessage(body, nameof(body));
        string? deferText = null;
        if (defer is { } delay)
        {
            PublishValidation.ThrowIfInvalidDelay(delay, Options.MaxReqTimeout, "NsqdHttpClientOptions.MaxReqTimeout", "deferred publish", nameof(defer));
            deferText = ((long)delay.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        }

        return _transport.SendCommandAsync(
            HttpMethod.Post,
            NsqHttpPath.Build("pub", ("topic", topic), ("defer", deferText)),
            new ReadOnlyMemoryContent(body),
            cancellationToken);
    }

    /// <summary>Publishes one message that nsqd delivers after <paramref name="delay"/> (<c>POST /pub?defer=ms</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="body">A non-empty body of at most <see cref="NsqdHttpClientOptions.MaxMessageSize"/> bytes.</param>
    /// <param name="delay">Delay before delivery, at least zero.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    public ValueTask PublishDeferredAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, CancellationToken cancellationToken = default) =>
        PublishAsync(topic, body, (TimeSpan?)delay, cancellationToken);

    /// <summary>Publishes several messages in one request (<c>POST /mpub?binary=true</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="bodies">At least one non-empty body, each at most <see cref="NsqdHttpClientOptions.MaxMessageSize"/> bytes.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    public ValueTask PublishManyAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, CancellationToken cancellationToken = default) =>
        PublishManyAsync(topic, bodies, binary: true, cancellationToken);

    /// <summary>Publishes several messages in one request (<c>POST /mpub</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="bodies">At least one non-empty body, each at most <see cref="NsqdHttpClientOptions.MaxMessageSize"/> bytes.</param>
    /// <param name="binary">
    /// True (default) sends <c>[int32 count]([int32 size][data])*</c> with <c>binary=true</c>, safe for any bytes;
    /// false sends the bodies separated by <c>\n</c>, so no body may contain a newline.
    /// </param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="ArgumentException">Invalid topic; no bodies; an empty or oversized body; a body with <c>\n</c> in text mode;
    /// a request body above <see cref="NsqdHttpClientOptions.MaxBodySize"/>.</exception>
    /// <exception cref="NsqHttpException">nsqd refused the batch (e.g. 413 <c>BODY_TOO_BIG</c>, <c>BAD_MESSAGE</c>).</exception>
    public async ValueTask PublishManyAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, bool binary, CancellationToken cancellationToken = default)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        var payload = PublishValidation.ThrowIfInvalidBatch(bodies, Options.MaxMessageSize, MaxMessageSizeName, nameof(bodies));
        for (var i = 0; !binary && i < bodies.Count; i++)
        {
            if (bodies[i].Span.Contains((byte)'\n'))
            {
                throw new ArgumentException($"Body {i} contains a newline, which text-mode /mpub would split; publish with binary: true.", nameof(bodies));
            }
        }

        // Binary: [int32 n]([int32 size][data])*; text: bodies joined by newlines.
        var size = binary ? 4 + 4L * bodies.Count + payload : payload + bodies.Count - 1;
        PublishValidation.ThrowIfBatchTooLarge(size, Options.MaxBodySize, "NsqdHttpClientOptions.MaxBodySize", nameof(bodies));

        var buffer = ArrayPool<byte>.Shared.Rent((int)size);
        try
        {
            var written = binary ? WriteBinaryBatch(buffer, bodies) : WriteTextBatch(buffer, bodies);
            await _transport.SendCommandAsync(
                HttpMethod.Post,
                NsqHttpPath.Build("mpub", ("topic", topic), ("binary", binary ? "true" : null)),
                new ReadOnlyMemoryContent(buffer.AsMemory(0, written)),
                cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Creates a topic (<c>POST /topic/create</c>); creating an existing topic succeeds.</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    public ValueTask CreateTopicAsync(string topic, CancellationToken cancellationToken = default) => TopicCommandAsync("topic/create", topic, cancellationToken);

    /// <summary>Deletes a topic with its channels and messages (<c>POST /topic/delete</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NsqHttpException">404 <c>TOPIC_NOT_FOUND</c>.</exception>
    public ValueTask DeleteTopicAsync(string topic, CancellationToken cancellationToken = default) => TopicCommandAsync("topic/delete", topic, cancellationToken);

    /// <summary>Drops the messages queued in a topic, not those already in its channels (<c>POST /topic/empty</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NsqHttpException">404 <c>TOPIC_NOT_FOUND</c>.</exception>
    public ValueTask EmptyTopicAsync(string topic, CancellationToken cancellationToken = default) => TopicCommandAsync("topic/empty", topic, cancellationToken);

    /// <summary>Stops copying a topic's messages to its channels (<c>POST /topic/pause</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NsqHttpException">404 <c>TOPIC_NOT_FOUND</c>.</exception>
    public ValueTask PauseTopicAsync(string topic, CancellationToken cancellationToken = default) => TopicCommandAsync("topic/pause", topic, cancellationToken);

    /// <summary>Resumes a paused topic (<c>POST /topic/unpause</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NsqHttpException">404 <c>TOPIC_NOT_FOUND</c>.</exception>
    public ValueTask UnpauseTopicAsync(string topic, CancellationToken cancellationToken = default) => TopicCommandAsync("topic/unpause", topic, cancellationToken);

    /// <summary>Creates a channel on an existing topic (<c>POST /channel/create</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="channel">A valid channel name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NsqHttpException">404 <c>TOPIC_NOT_FOUND</c>.</exception>
    public ValueTask CreateChannelAsync(string topic, string channel, CancellationToken cancellationToken = default) => ChannelCommandAsync("channel/create", topic, channel, cancellationToken);

    /// <summary>Deletes a channel and its messages (<c>POST /channel/delete</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="channel">A valid channel name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NsqHttpException">404 <c>TOPIC_NOT_FOUND</c> or <c>CHANNEL_NOT_FOUND</c>.</exception>
    public ValueTask DeleteChannelAsync(string topic, string channel, CancellationToken cancellationToken = default) => ChannelCommandAsync("channel/delete", topic, channel, cancellationToken);

    /// <summary>Drops a channel's queued messages (<c>POST /channel/empty</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="channel">A valid channel name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NsqHttpException">404 <c>TOPIC_NOT_FOUND</c> or <c>CHANNEL_NOT_FOUND</c>.</exception>
    public ValueTask EmptyChannelAsync(string topic, string channel, CancellationToken cancellationToken = default) => ChannelCommandAsync("channel/empty", topic, channel, cancellationToken);

    /// <summary>Stops delivery on a channel; messages keep queueing (<c>POST /channel/pause</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="channel">A valid channel name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NsqHttpException">404 <c>TOPIC_NOT_FOUND</c> or <c>CHANNEL_NOT_FOUND</c>.</exception>
    public ValueTask PauseChannelAsync(string topic, string channel, CancellationToken cancellationToken = default) => ChannelCommandAsync("channel/pause", topic, channel, cancellationToken);

    /// <summary>Resumes delivery on a paused channel (<c>POST /channel/unpause</c>).</summary>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="channel">A valid channel name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NsqHttpException">404 <c>TOPIC_NOT_FOUND</c> or <c>CHANNEL_NOT_FOUND</c>.</exception>
    public ValueTask UnpauseChannelAsync(string topic, string channel, CancellationToken cancellationToken = default) => ChannelCommandAsync("channel/unpause", topic, channel, cancellationToken);

    /// <summary>Reads nsqd's statistics (<c>GET /stats?format=json</c>).</summary>
    /// <param name="topic">Only this topic (null for all). An unknown topic gives no topics, not an error.</param>
    /// <param name="channel">Only channels of this name (null for all).</param>
    /// <param name="includeClients">Whether to list each channel's clients and the producers (nsqd's default: true).</param>
    /// <param name="includeMemory">Whether to include <see cref="NsqdStats.Memory"/> (nsqd's default: true).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="ArgumentException">An invalid topic or channel name.</exception>
    public ValueTask<NsqdStats> StatsAsync(string? topic = null, string? channel = null, bool includeClients = true, bool includeMemory = true, CancellationToken cancellationToken = default)
    {
        if (topic is not null)
        {
            NsqNames.ThrowIfInvalidTopic(topic);
        }

        if (channel is not null)
        {
            NsqNames.ThrowIfInvalidChannel(channel);
        }

        // nsqd's defaults for include_* are true, so only a false is sent (as nsqadmin does).
        var path = NsqHttpPath.Build(
            "stats",
            ("format", "json"),
            ("topic", topic),
            ("channel", channel),
            ("include_clients", includeClients ? null : "false"),
            ("include_mem", includeMemory ? null : "false"));
        return _transport.SendJsonAsync(HttpMethod.Get, path, NsqHttpJsonContext.Default.NsqdStats, cancellationToken);
    }

    /// <summary>Reads a runtime option (<c>GET /config/{option}</c>), e.g. <c>nsqlookupd_tcp_addresses</c> or <c>log_level</c>.</summary>
    /// <param name="option">The option name in nsqd's config-file spelling.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The value as JSON (an array of strings for <c>nsqlookupd_tcp_addresses</c>, a number for <c>log_level</c>).</returns>
    /// <exception cref="NsqHttpException">400 <c>INVALID_OPTION</c>.</exception>
    public async ValueTask<JsonElement> GetConfigAsync(string option, CancellationToken cancellationToken = default)
    {
        ValidateOption(option);
        var response = await _transport.SendAsync(HttpMethod.Get, "config/" + option, null, cancellationToken).ConfigureAwait(false);
        return NsqHttpTransport.ReadJsonElement(response);
    }

    /// <summary>Changes a runtime option (<c>PUT /config/{option}</c>) and returns its new value.</summary>
    /// <param name="option"><c>nsqlookupd_tcp_addresses</c> (value: a JSON array of <c>host:port</c>) or <c>log_level</c> (value: e.g. <c>warn</c>).</param>
    /// <param name="value">The raw request body, sent as is.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="ArgumentException">Empty option or value.</exception>
    /// <exception cref="NsqHttpException">400 <c>INVALID_OPTION</c> or <c>INVALID_VALUE</c>.</exception>
    public async ValueTask<JsonElement> SetConfigAsync(string option, string value, CancellationToken cancellationToken = default)
    {
        ValidateOption(option);
        ArgumentException.ThrowIfNullOrEmpty(value);
        var bytes = System.Text.Encoding.UTF8.GetBytes(value);
        if (bytes.Length > Options.MaxMessageSize)
        {
            // nsqd reads at most --max-msg-size bytes of a config value.
            throw new ArgumentException($"The value is {bytes.Length} bytes, above the limit of {Options.MaxMessageSize}.", nameof(value));
        }

        var response = await _transport.SendAsync(HttpMethod.Put, "config/" + option, new ByteArrayContent(bytes), cancellationToken).ConfigureAwait(false);
        return NsqHttpTransport.ReadJsonElement(response);
    }

    /// <summary>The nsqlookupd TCP addresses nsqd registers with (<c>GET /config/nsqlookupd_tcp_addresses</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    public async ValueTask<IReadOnlyList<string>> GetLookupdTcpAddressesAsync(CancellationToken cancellationToken = default)
    {
        var response = await _transport.SendAsync(HttpMethod.Get, "config/nsqlookupd_tcp_addresses", null, cancellationToken).ConfigureAwait(false);
        // Go encodes an unset slice as null.
        return NsqHttpTransport.ReadJsonOrNull(response, NsqHttpJsonContext.Default.StringArray) ?? [];
    }

    /// <summary>
    /// Replaces the nsqlookupd TCP addresses nsqd registers with (<c>PUT /config/nsqlookupd_tcp_addresses</c>);
    /// nsqd connects to added ones and drops removed ones. Returns the list nsqd now uses.
    /// </summary>
    /// <param name="addresses"><c>host:port</c> entries; an empty list unregisters from every nsqlookupd.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="ArgumentException">An empty or blank address.</exception>
    public async ValueTask<IReadOnlyList<string>> SetLookupdTcpAddressesAsync(IEnumerable<string> addresses, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        var list = addresses.ToArray();
        foreach (var address in list)
        {
            if (string.IsNullOrWhiteSpace(address) || address.Any(char.IsWhiteSpace))
            {
                throw new ArgumentException($"'{address}' is not a host:port address.", nameof(addresses));
            }
        }

        var body = JsonSerializer.SerializeToUtf8Bytes(list, NsqHttpJsonContext.Default.StringArray);
        var response = await _transport.SendAsync(HttpMethod.Put, "config/nsqlookupd_tcp_addresses", new ByteArrayContent(body), cancellationToken).ConfigureAwait(false);
        return NsqHttpTransport.ReadJsonOrNull(response, NsqHttpJsonContext.Default.StringArray) ?? [];
    }

    private ValueTask TopicCommandAsync(string path, string topic, CancellationToken cancellationToken)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        return _transport.SendCommandAsync(HttpMethod.Post, NsqHttpPath.Build(path, ("topic", topic)), null, cancellationToken);
    }

    private ValueTask ChannelCommandAsync(string path, string topic, string channel, CancellationToken cancellationToken)
    {
        NsqNames.ThrowIfInvalidTopic(topic);
        NsqNames.ThrowIfInvalidChannel(channel);
        return _transport.SendCommandAsync(HttpMethod.Post, NsqHttpPath.Build(path, ("topic", topic), ("channel", channel)), null, cancellationToken);
    }

    private const string MaxMessageSizeName = "NsqdHttpClientOptions.MaxMessageSize";

    private void ValidateMessage(ReadOnlyMemory<byte> body, string paramName) =>
        PublishValidation.ThrowIfInvalidBody(body.Length, Options.MaxMessageSize, MaxMessageSizeName, paramName);

    private static void ValidateOption(string option)
    {
        ArgumentException.ThrowIfNullOrEmpty(option);
        foreach (var c in option)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
            {
                throw new ArgumentException($"'{option}' is not an nsqd option name (lower-case letters, digits and '_').", nameof(option));
            }
        }
    }

    private static int WriteBinaryBatch(byte[] buffer, IReadOnlyList<ReadOnlyMemory<byte>> bodies)
    {
        BinaryPrimitives.WriteInt32BigEndian(buffer, bodies.Count);
        var offset = 4;
        for (var i = 0; i < bodies.Count; i++)
        {
            var body = bodies[i].Span;
            BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(offset), body.Length);
            body.CopyTo(buffer.AsSpan(offset + 4));
            offset += 4 + body.Length;
        }

        return offset;
    }

    private static int WriteTextBatch(byte[] buffer, IReadOnlyList<ReadOnlyMemory<byte>> bodies)
    {
        var offset = 0;
        for (var i = 0; i < bodies.Count; i++)
        {
            if (i > 0)
            {
                buffer[offset++] = (byte)'\n';
            }

            bodies[i].Span.CopyTo(buffer.AsSpan(offset));
            offset += bodies[i].Length;
        }

        return offset;
    }
}
