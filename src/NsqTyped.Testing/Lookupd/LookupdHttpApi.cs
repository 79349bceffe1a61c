using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NsqTyped.Protocol;
using NsqTyped.Testing.Nsqd.Http;

namespace NsqTyped.Testing.Lookupd;

/// <summary>
/// nsqlookupd's HTTP API (<c>nsqlookupd/http.go</c> with the <c>http_api</c> V1 decorator): exact paths
/// routed by hand (httprouter semantics: unknown path 404, wrong method 405 with <c>Allow</c>, OPTIONS
/// answered with <c>Allow</c>), query parameters parsed as Go's <c>url.ParseQuery</c>, JSON keys in Go's
/// order (sorted for maps, declaration order for structs).
/// </summary>
internal sealed class LookupdHttpApi
{
    private const string NsqContentTypeHeader = "X-Nsq-Content-Type";
    private const string NsqContentType = "nsq; version=1.0";
    private const string JsonContentType = "application/json; charset=utf-8";

    private readonly EmbeddedNsqlookupd _lookupd;
    private readonly ILogger _logger;
    private readonly Dictionary<string, Route> _routes;

    public LookupdHttpApi(EmbeddedNsqlookupd lookupd, ILogger logger)
    {
        _lookupd = lookupd;
        _logger = logger;
        _routes = new Dictionary<string, Route>(StringComparer.Ordinal)
        {
            ["/ping"] = new(HttpMethods.Get, null, false),
            ["/info"] = new(HttpMethods.Get, Info, false),
            ["/debug"] = new(HttpMethods.Get, Debug, false),
            ["/lookup"] = new(HttpMethods.Get, Lookup, true),
            ["/topics"] = new(HttpMethods.Get, Topics, false),
            ["/channels"] = new(HttpMethods.Get, Channels, true),
            ["/nodes"] = new(HttpMethods.Get, Nodes, false),
            ["/topic/create"] = new(HttpMethods.Post, CreateTopic, true),
            ["/topic/delete"] = new(HttpMethods.Post, DeleteTopic, true),
            ["/channel/create"] = new(HttpMethods.Post, CreateChannel, true),
            ["/channel/delete"] = new(HttpMethods.Post, DeleteChannel, true),
            ["/topic/tombstone"] = new(HttpMethods.Post, TombstoneTopicProducer, true),
        };
    }

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        try
        {
            if (!_routes.TryGetValue(path, out var route))
            {
                await RespondV1Async(context, V1Result.Error(StatusCodes.Status404NotFound, "NOT_FOUND")).ConfigureAwait(false);
                return;
            }

            if (!string.Equals(request.Method, route.Method, StringComparison.Ordinal))
            {
                // httprouter lists the allowed methods sorted, OPTIONS included.
                var allow = string.CompareOrdinal(route.Method, HttpMethods.Options) < 0
                    ? route.Method + ", OPTIONS"
                    : "OPTIONS, " + route.Method;
                context.Response.Headers.Allow = allow;
                if (HttpMethods.IsOptions(request.Method))
                {
                    context.Response.ContentLength = 0;
                    return;
                }

                await RespondV1Async(context, V1Result.Error(StatusCodes.Status405MethodNotAllowed, "METHOD_NOT_ALLOWED")).ConfigureAwait(false);
                return;
            }

            if (route.Handler is null)
            {
                // /ping is plain text and, unlike every other endpoint, carries no X-Nsq-Content-Type.
                context.Response.ContentType = "text/plain; charset=utf-8";
                context.Response.ContentLength = 2;
                await context.Response.Body.WriteAsync("OK"u8.ToArray(), context.RequestAborted).ConfigureAwait(false);
                return;
            }

            var query = GoQuery.Parse(request.QueryString.HasValue ? request.QueryString.Value![1..] : null);
            // Only handlers that read parameters (http_api.NewReqParams) fail on a malformed query.
            var result = route.ParsesQuery && query.HasError
                ? V1Result.Error(StatusCodes.Status400BadRequest, "INVALID_REQUEST")
                : route.Handler(query);
            await RespondV1Async(context, result).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LookupdLog.HttpFailed(_logger, ex, request.Method, path);
            if (!context.Response.HasStarted)
            {
                context.Response.Clear();
                await RespondV1Async(context, V1Result.Error(StatusCodes.Status500InternalServerError, "INTERNAL_ERROR")).ConfigureAwait(false);
            }
        }
    }

    private V1Result Info(GoQuery query) =>
        V1Result.Json(new GoJsonWriter().StartObject().Property("version", _lookupd.Options.Version).EndObject());

    private V1Result Topics(GoQuery query)
    {
        var topics = _lookupd.Db.FindRegistrations(LookupdRegistration.TopicCategory, "*", string.Empty).Select(r => r.Key);
        return V1Result.Json(new GoJsonWriter().StartObject().Name("topics").StringArray(topics).EndObject());
    }

    private V1Result Channels(GoQuery query)
    {
        if (!query.TryGet("topic", out var topic))
        {
            return V1Result.Error(StatusCodes.Status400BadRequest, "MISSING_ARG_TOPIC");
        }

        var channels = _lookupd.Db.FindRegistrations(LookupdRegistration.ChannelCategory, topic, "*").Select(r => r.SubKey);
        return V1Result.Json(new GoJsonWriter().StartObject().Name("channels").StringArray(channels).EndObject());
    }

    private V1Result Lookup(GoQuery query)
    {
        if (!query.TryGet("topic", out var topic))
        {
            return V1Result.Error(StatusCodes.Status400BadRequest, "MISSING_ARG_TOPIC");
        }

        var db = _lookupd.Db;
        if (db.FindRegistrations(LookupdRegistration.TopicCategory, topic, string.Empty).Count == 0)
        {
            return V1Result.Error(StatusCodes.Status404NotFound, "TOPIC_NOT_FOUND");
        }

        var channels = db.FindRegistrations(LookupdRegistration.ChannelCategory, topic, "*").Select(r => r.SubKey);
        var producers = LookupdRegistrationDb.FilterByActive(
            db.FindProducers(LookupdRegistration.TopicCategory, topic, string.Empty),
            _lookupd.Options.InactiveProducerTimeout,
            _lookupd.Options.TombstoneLifetime,
            _lookupd.Options.TimeProvider.GetUtcNow());

        var json = new GoJsonWriter().StartObject().Name("channels").StringArray(channels).Name("producers").StartArray();
        foreach (var producer in producers)
        {
            WritePeerInfo(json.StartObject(), producer.Peer).EndObject();
        }

        return V1Result.Json(json.EndArray().EndObject());
    }

    private V1Result Nodes(GoQuery query)
    {
        var db = _lookupd.Db;
        var options = _lookupd.Options;
        var now = options.TimeProvider.GetUtcNow();

        // Tombstoned nodes stay listed (tombstone lifetime 0 in the filter); their flags say which topics.
        var producers = LookupdRegistrationDb.FilterByActive(
            db.FindProducers(LookupdRegistration.ClientCategory, string.Empty, string.Empty), options.InactiveProducerTimeout, TimeSpan.Zero, now);
        var topicProducers = new Dictionary<string, List<LookupdProducer>>(StringComparer.Ordinal);
        var json = new GoJsonWriter().StartObject().Name("producers").StartArray();
        foreach (var producer in producers)
        {
            var topics = db.LookupRegistrations(producer.Peer.Id)
                .Where(r => r.Category == LookupdRegistration.TopicCategory)
                .Select(r => r.Key)
                .ToList();
            var tombstones = new bool[topics.Count];
            for (var i = 0; i < topics.Count; i++)
            {
                if (!topicProducers.TryGetValue(topics[i], out var forTopic))
                {
                    forTopic = db.FindProducers(LookupdRegistration.TopicCategory, topics[i], string.Empty);
                    topicProducers[topics[i]] = forTopic;
                }

                foreach (var candidate in forTopic)
                {
                    if (ReferenceEquals(candidate.Peer, producer.Peer))
                    {
                        tombstones[i] = candidate.IsTombstoned(options.TombstoneLifetime, now);
                    }
                }
            }

            WritePeerInfo(json.StartObject(), producer.Peer).Name("tombstones").StartArray();
            foreach (var tombstone in tombstones)
            {
                json.Bool(tombstone);
            }

            json.EndArray().Name("topics").StringArray(topics).EndObject();
        }

        return V1Result.Json(json.EndArray().EndObject());
    }

    private V1Result Debug(GoQuery query)
    {
        // Go marshals map[string][]map[string]interface{}: registration keys and producer keys both sorted.
        var entries = new SortedDictionary<string, List<LookupdProducer>>(StringComparer.Ordinal);
        foreach (var (registration, producers) in _lookupd.Db.Snapshot())
        {
            if (producers.Count == 0)
            {
                continue;
            }

            var key = registration.Category + ":" + registration.Key + ":" + registration.SubKey;
            if (!entries.TryGetValue(key, out var list))
            {
                entries[key] = list = [];
            }

            list.AddRange(producers);
        }

        var json = new GoJsonWriter().StartObject();
        foreach (var (key, producers) in entries)
        {
            json.Name(key).StartArray();
            foreach (var producer in producers)
            {
                var peer = producer.Peer;
                json.StartObject()
                    .Property("broadcast_address", peer.BroadcastAddress)
                    .Property("hostname", peer.Hostname)
                    .Property("http_port", peer.HttpPort)
                    .Property("id", peer.Id)
                    .Property("last_update", peer.LastUpdateUnixNanoseconds)
                    .Property("tcp_port", peer.TcpPort)
                    .Property("tombstoned", producer.Tombstoned)
                    .Property("tombstoned_at", LookupdRegistrationDb.ToUnixNanoseconds(producer.TombstonedAt))
                    .Property("version", peer.Version)
                    .EndObject();
            }

            json.EndArray();
        }

        return V1Result.Json(json.EndObject());
    }

    private V1Result CreateTopic(GoQuery query)
    {
        if (!query.TryGet("topic", out var topic))
        {
            return V1Result.Error(StatusCodes.Status400BadRequest, "MISSING_ARG_TOPIC");
        }

        if (!NsqNames.IsValidTopicName(topic))
        {
            return V1Result.Error(StatusCodes.Status400BadRequest, "INVALID_ARG_TOPIC");
        }

        _lookupd.Db.AddRegistration(LookupdRegistration.Topic(topic));
        return V1Result.Ok;
    }

    private V1Result DeleteTopic(GoQuery query)
    {
        if (!query.TryGet("topic", out var topic))
        {
            return V1Result.Error(StatusCodes.Status400BadRequest, "MISSING_ARG_TOPIC");
        }

        var db = _lookupd.Db;
        foreach (var registration in db.FindRegistrations(LookupdRegistration.ChannelCategory, topic, "*"))
        {
            db.RemoveRegistration(registration);
        }

        foreach (var registration in db.FindRegistrations(LookupdRegistration.TopicCategory, topic, string.Empty))
        {
            db.RemoveRegistration(registration);
        }

        return V1Result.Ok;
    }

    private V1Result TombstoneTopicProducer(GoQuery query)
    {
        if (!query.TryGet("topic", out var topic))
        {
            return V1Result.Error(StatusCodes.Status400BadRequest, "MISSING_ARG_TOPIC");
        }

        if (!query.TryGet("node", out var node))
        {
            return V1Result.Error(StatusCodes.Status400BadRequest, "MISSING_ARG_NODE");
        }

        var now = _lookupd.Options.TimeProvider.GetUtcNow();
        foreach (var producer in _lookupd.Db.FindProducers(LookupdRegistration.TopicCategory, topic, string.Empty))
        {
            var thisNode = producer.Peer.BroadcastAddress + ":" + producer.Peer.HttpPort.ToString(CultureInfo.InvariantCulture);
            if (thisNode == node)
            {
                producer.Tombstone(now);
            }
        }

        return V1Result.Ok;
    }

    private V1Result CreateChannel(GoQuery query)
    {
        if (GetTopicChannelArgs(query, out var topic, out var channel) is { } error)
        {
            return error;
        }

        _lookupd.Db.AddRegistration(LookupdRegistration.Channel(topic, channel));
        _lookupd.Db.AddRegistration(LookupdRegistration.Topic(topic));
        return V1Result.Ok;
    }

    private V1Result DeleteChannel(GoQuery query)
    {
        if (GetTopicChannelArgs(query, out var topic, out var channel) is { } error)
        {
            return error;
        }

        var registrations = _lookupd.Db.FindRegistrations(LookupdRegistration.ChannelCategory, topic, channel);
        if (registrations.Count == 0)
        {
            return V1Result.Error(StatusCodes.Status404NotFound, "CHANNEL_NOT_FOUND");
        }

        foreach (var registration in registrations)
        {
            _lookupd.Db.RemoveRegistration(registration);
        }

        return V1Result.Ok;
    }

    /// <summary><c>http_api.GetTopicChannelArgs</c>: presence, then validity, topic first.</summary>
    private static V1Result? GetTopicChannelArgs(GoQuery query, out string topic, out string channel)
    {
        channel = string.Empty;
        if (!query.TryGet("topic", out topic))
        {
            return V1Result.Error(StatusCodes.Status400BadRequest, "MISSING_ARG_TOPIC");
        }

        if (!NsqNames.IsValidTopicName(topic))
        {
            return V1Result.Error(StatusCodes.Status400BadRequest, "INVALID_ARG_TOPIC");
        }

        if (!query.TryGet("channel", out channel))
        {
            return V1Result.Error(StatusCodes.Status400BadRequest, "MISSING_ARG_CHANNEL");
        }

        if (!NsqNames.IsValidChannelName(channel))
        {
            return V1Result.Error(StatusCodes.Status400BadRequest, "INVALID_ARG_CHANNEL");
        }

        return null;
    }

    /// <summary>nsqlookupd's <c>PeerInfo</c> struct, in declaration order.</summary>
    private static GoJsonWriter WritePeerInfo(GoJsonWriter json, LookupdPeerInfo peer) => json
        .Property("remote_address", peer.RemoteAddress)
        .Property("hostname", peer.Hostname)
        .Property("broadcast_address", peer.BroadcastAddress)
        .Property("tcp_port", peer.TcpPort)
        .Property("http_port", peer.HttpPort)
        .Property("version", peer.Version);

    /// <summary>
    /// <c>http_api.RespondV1</c>: 200 with the raw body (JSON gets a Content-Type), errors as
    /// <c>{"message":"CODE"}</c>; every answer carries <c>X-Nsq-Content-Type</c>.
    /// </summary>
    private static async Task RespondV1Async(HttpContext context, V1Result result)
    {
        var response = context.Response;
        var body = result.Body ?? [];
        if (result.IsJson)
        {
            response.ContentType = JsonContentType;
        }

        response.Headers.Append(NsqContentTypeHeader, NsqContentType);
        response.StatusCode = result.Status;
        response.ContentLength = body.Length;
        if (body.Length > 0)
        {
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    private sealed record Route(string Method, Func<GoQuery, V1Result>? Handler, bool ParsesQuery);

    private readonly record struct V1Result(int Status, byte[]? Body, bool IsJson)
    {
        public static V1Result Ok => new(StatusCodes.Status200OK, null, false);

        public static V1Result Json(GoJsonWriter json) => new(StatusCodes.Status200OK, json.ToUtf8(), true);

        public static V1Result Error(int status, string code) =>
            new(status, new GoJsonWriter().StartObject().Property("message", code).EndObject().ToUtf8(), true);
    }
}
