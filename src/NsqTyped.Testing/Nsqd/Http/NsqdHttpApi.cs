using NsqTyped.Testing.Nsqd.Broker;

namespace NsqTyped.Testing.Nsqd.Http;

/// <summary>
/// nsqd v1.3.0's HTTP API (<c>nsqd/http.go</c>) over the in-memory broker: the route table and the
/// handlers, split by feature into partial files. Handlers return <see cref="NsqdHttpResult"/>s built
/// with the same decorators nsqd uses (PlainText for <c>/ping</c>, V1 for everything else).
/// </summary>
internal sealed partial class NsqdHttpApi
{
    // nsqd's boolParams: anything else means "use the default".
    private static readonly Dictionary<string, bool> BoolParams = new(StringComparer.Ordinal)
    {
        ["true"] = true,
        ["1"] = true,
        ["false"] = false,
        ["0"] = false,
    };

    private readonly NsqdBroker _broker;

    public NsqdHttpApi(NsqdBroker broker, NsqdRuntimeConfig config)
    {
        ArgumentNullException.ThrowIfNull(broker);
        ArgumentNullException.ThrowIfNull(config);
        _broker = broker;
        Config = config;
        Router = new NsqdHttpRouter();
        Router.Add("GET", "/ping", Ping);
        Router.Add("GET", "/info", Info);
        Router.Add("POST", "/pub", PublishAsync);
        Router.Add("POST", "/mpub", PublishManyAsync);
        Router.Add("GET", "/stats", Stats);
        Router.Add("POST", "/topic/create", CreateTopic);
        Router.Add("POST", "/topic/delete", DeleteTopic);
        Router.Add("POST", "/topic/empty", EmptyTopic);
        Router.Add("POST", "/topic/pause", PauseTopic);
        Router.Add("POST", "/topic/unpause", PauseTopic);
        Router.Add("POST", "/channel/create", CreateChannel);
        Router.Add("POST", "/channel/delete", DeleteChannel);
        Router.Add("POST", "/channel/empty", EmptyChannel);
        Router.Add("POST", "/channel/pause", PauseChannel);
        Router.Add("POST", "/channel/unpause", PauseChannel);
        Router.Add("GET", "/config/:opt", ConfigAsync);
        Router.Add("PUT", "/config/:opt", ConfigAsync);
    }

    /// <summary>The routes, for <see cref="NsqdHttpServer"/>.</summary>
    public NsqdHttpRouter Router { get; }

    /// <summary>The options changeable at run time.</summary>
    public NsqdRuntimeConfig Config { get; }

    private EmbeddedNsqdOptions Options => _broker.Options;

    private static ValueTask<NsqdHttpResult> Done(NsqdHttpResult result) => ValueTask.FromResult(result);

    private static bool ParseBool(GoQuery query, string key, bool defaultValue) =>
        BoolParams.TryGetValue(query.Get(key), out var value) ? value : defaultValue;

    private ValueTask<NsqdHttpResult> Ping(NsqdHttpRequest request, CancellationToken cancellationToken) =>
        Done(NsqdHttpResult.PlainText(200, "OK"));

    private ValueTask<NsqdHttpResult> Info(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        var json = new GoJsonWriter()
            .StartObject()
            .Property("version", Options.Version)
            .Property("broadcast_address", Options.BroadcastAddress)
            .Property("hostname", Options.Hostname ?? Environment.MachineName)
            .Property("http_port", _broker.HttpEndPoint?.Port ?? 0)
            .Property("tcp_port", _broker.TcpEndPoint?.Port ?? 0)
            .Property("start_time", _broker.StartTime.ToUnixTimeSeconds())
            .Property("max_heartbeat_interval", Nanoseconds(Options.MaxHeartbeatInterval))
            .Property("max_output_buffer_size", Options.MaxOutputBufferSize)
            .Property("max_output_buffer_timeout", Nanoseconds(Options.MaxOutputBufferTimeout))
            .Property("max_deflate_level", Options.MaxDeflateLevel)
            .EndObject();
        return Done(NsqdHttpResult.V1Json(json.ToUtf8()));
    }

    /// <summary>A <see cref="TimeSpan"/> as Go marshals a <c>time.Duration</c>: integer nanoseconds.</summary>
    private static long Nanoseconds(TimeSpan value) => value.Ticks * 100;

    /// <summary>nsqd's <c>getTopicFromQuery</c>: parse, require a valid <c>topic</c>, get or create the topic.</summary>
    private bool TryGetTopicFromQuery(NsqdHttpRequest request, out NsqdTopic topic, out NsqdHttpResult error)
    {
        topic = null!;
        if (request.Query.HasError)
        {
            error = NsqdHttpResult.V1Error(400, "INVALID_REQUEST");
            return false;
        }

        if (!request.Query.TryGet("topic", out var topicName))
        {
            error = NsqdHttpResult.V1Error(400, "MISSING_ARG_TOPIC");
            return false;
        }

        if (!Protocol.NsqNames.IsValidTopicName(topicName))
        {
            error = NsqdHttpResult.V1Error(400, "INVALID_TOPIC");
            return false;
        }

        topic = _broker.GetOrCreateTopic(topicName);
        error = null!;
        return true;
    }
}
