using System.Buffers.Binary;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using NsqTyped.Conformance;
using NsqTyped.Internal.Http;
using NsqTyped.Protocol;

namespace NsqTyped.Tests.Http;

/// <summary>
/// Replays every recorded nsqd/nsqlookupd v1.3.0 HTTP exchange (tests/conformance/http) that
/// <see cref="NsqdHttpClient"/> or <see cref="LookupdClient"/> can make: the client must send the recorded
/// method, path, query and body, and turn the recorded answer into the right result or typed exception.
/// Requests the clients refuse by design (invalid names, empty bodies) must fail before any I/O.
/// </summary>
public sealed partial class HttpConformanceTests
{
    private const string AcceptVersion1 = "application/vnd.nsq; version=1.0";

    // Recorded exchanges the clients cannot make (unknown paths, wrong methods, missing parameters,
    // malformed bodies, text /stats) are left out; everything else must be reproduced.
    private const double MinimumCoveredShare = 0.75;

    /// <summary>Every endpoint the two clients call; each must be exercised by at least one recording.</summary>
    private static readonly string[] ClientEndpoints =
    [
        "nsqd GET /ping", "nsqd GET /info", "nsqd POST /pub", "nsqd POST /mpub", "nsqd GET /stats",
        "nsqd POST /topic/create", "nsqd POST /topic/delete", "nsqd POST /topic/empty", "nsqd POST /topic/pause", "nsqd POST /topic/unpause",
        "nsqd POST /channel/create", "nsqd POST /channel/delete", "nsqd POST /channel/empty", "nsqd POST /channel/pause", "nsqd POST /channel/unpause",
        "nsqd GET /config/nsqlookupd_tcp_addresses", "nsqd PUT /config/nsqlookupd_tcp_addresses",
        "nsqlookupd GET /ping", "nsqlookupd GET /info", "nsqlookupd GET /lookup", "nsqlookupd GET /topics", "nsqlookupd GET /channels",
        "nsqlookupd GET /nodes", "nsqlookupd POST /topic/create", "nsqlookupd POST /topic/delete", "nsqlookupd POST /channel/create",
        "nsqlookupd POST /channel/delete", "nsqlookupd POST /topic/tombstone",
    ];

    [Theory]
    [MemberData(nameof(ConformanceFixtures.HttpFixtureNames), MemberType = typeof(ConformanceFixtures))]
    public async Task Clients_reproduce_the_recorded_exchanges(string fixtureName)
    {
        var fixture = ConformanceFixtures.Load(fixtureName);
        foreach (var step in fixture.Steps.Where(s => s.Action == "http"))
        {
            if (Map(step) is not { } call)
            {
                continue;
            }

            try
            {
                await VerifyAsync(step, call);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"{fixture.Name} step {step.Number} ({step.Method} {step.Path}): {ex.Message}");
            }
        }
    }

    [Fact]
    public void Most_recorded_exchanges_and_every_client_endpoint_are_covered()
    {
        var steps = ConformanceFixtures.LoadAllHttp().SelectMany(f => f.Steps).Where(s => s.Action == "http").ToArray();
        var covered = steps.Where(s => Map(s) is not null).ToArray();

        Assert.NotEmpty(steps);
        TestContext.Current.TestOutputHelper?.WriteLine($"{covered.Length} of {steps.Length} recorded HTTP exchanges reproduced.");
        var share = (double)covered.Length / steps.Length;
        Assert.True(share >= MinimumCoveredShare, $"Only {covered.Length} of {steps.Length} recorded HTTP exchanges are reproduced by the clients.");

        var endpoints = covered.Select(s => $"{s.Server} {s.Method} {s.Path!.Split('?')[0]}").ToHashSet();
        var missing = ClientEndpoints.Where(e => !endpoints.Contains(e)).ToArray();
        Assert.True(missing.Length == 0, "No recording exercises: " + string.Join(", ", missing));
        Assert.Contains(covered, s => Map(s)!.ExpectArgumentError);
    }

    private static async Task VerifyAsync(ConformanceStep step, StepCall call)
    {
        var served = ServedBody(step);
        var handler = new FakeHttpHandler(_ => BuildResponse(step, served));
        using var http = new HttpClient(handler);
        using var nsqd = new NsqdHttpClient(new Uri("http://127.0.0.1:4151/"), http);
        using var lookupd = new LookupdClient(new Uri("http://127.0.0.1:4161/"), http);

        if (call.ExpectArgumentError)
        {
            await Assert.ThrowsAnyAsync<ArgumentException>(async () => await call.Invoke(nsqd, lookupd));
            Assert.Empty(handler.Requests);
            return;
        }

        var status = (HttpStatusCode)step.Status!.Value;
        var errorCode = step.BodyJson is { ValueKind: JsonValueKind.Object } json ? json.GetString("message") : null;
        if ((int)status is >= 200 and <= 299)
        {
            var result = await call.Invoke(nsqd, lookupd);
            if (result is { } parsed)
            {
                AssertCovers(ParseJson(served), parsed, "");
            }
        }
        else if (call.EmptyOnTopicNotFound && errorCode == "TOPIC_NOT_FOUND")
        {
            var result = await call.Invoke(nsqd, lookupd);
            Assert.Equal("""{"channels":[],"producers":[]}""", result!.Value.GetRawText());
        }
        else
        {
            var ex = await Assert.ThrowsAsync<NsqHttpException>(async () => await call.Invoke(nsqd, lookupd));
            Assert.Equal(status, ex.StatusCode);
            Assert.Equal(errorCode, ex.NsqCode);
            Assert.Equal(Encoding.UTF8.GetString(served), ex.ResponseBody);
            Assert.Equal(step.BodyJson?.GetInt("https_port"), ex.HttpsPort);
        }

        var request = Assert.Single(handler.Requests);
        Assert.Equal(step.Method, request.Method);
        Assert.Equal(step.Path, request.PathAndQuery);
        Assert.Equal(AcceptVersion1, request.Accept);
        var recordedBody = (step.RequestBody ?? []);
        if (call.TextBatch)
        {
            // nsqd splits text /mpub bodies on '\n' and skips empty lines, so "a\n\nb\n" and "a\nb" are the same batch.
            Assert.Equal(SplitTextBatch(recordedBody), SplitTextBatch(request.Body));
        }
        else
        {
            Assert.Equal(Convert.ToHexStringLower(recordedBody), Convert.ToHexStringLower(request.Body));
        }
    }

    /// <summary>How a client reproduces one recorded request.</summary>
    private sealed record StepCall(
        Func<NsqdHttpClient, LookupdClient, ValueTask<JsonElement?>> Invoke,
        bool ExpectArgumentError,
        bool TextBatch = false,
        bool EmptyOnTopicNotFound = false);

    /// <summary>The client call that sends <paramref name="step"/>'s request, or null when no client call can.</summary>
    private static StepCall? Map(ConformanceStep step)
    {
        var (path, query) = SplitPath(step.Path!);
        var body = (step.RequestBody ?? []);
        var topic = query.GetValueOrDefault("topic");
        var channel = query.GetValueOrDefault("channel");
        var badTopic = topic is not null && !NsqNames.IsValidTopicName(topic);
        var badChannel = channel is not null && !NsqNames.IsValidChannelName(channel);
        var ctx = NsqHttpJsonContext.Default;

        if (step.Server == "nsqd")
        {
            switch (step.Method, path)
            {
                case ("GET", "/ping"):
                    return Command((n, _) => n.PingAsync(Token));
                case ("GET", "/info"):
                    return new((n, _) => Json(n.InfoAsync(Token), ctx.NsqdInfo), false);
                case ("POST", "/pub") when topic is not null:
                {
                    TimeSpan? defer = null;
                    if (query.TryGetValue("defer", out var deferText))
                    {
                        if (!long.TryParse(deferText, out var ms))
                        {
                            return null;
                        }

                        defer = TimeSpan.FromMilliseconds(ms);
                    }

                    return Command((n, _) => n.PublishAsync(topic, body, defer, Token), badTopic || body.Length == 0 || defer < TimeSpan.Zero || defer > NsqdHttpClientOptions.Default.MaxReqTimeout);
                }

                case ("POST", "/mpub") when topic is not null:
                {
                    var binary = query.GetValueOrDefault("binary") == "true";
                    var bodies = binary ? ParseBinaryBatch(body) : SplitTextBatch(body).Select(Encoding.UTF8.GetBytes).ToArray();
                    if (bodies is null)
                    {
                        return null;
                    }

                    var memories = bodies.Select(b => (ReadOnlyMemory<byte>)b).ToArray();
                    return Command(
                        (n, _) => n.PublishManyAsync(topic, memories, binary, Token),
                        badTopic || memories.Length == 0 || memories.Any(m => m.IsEmpty)) with { TextBatch = !binary };
                }

                case ("GET", "/stats") when query.GetValueOrDefault("format") == "json":
                    return new(
                        (n, _) => Json(n.StatsAsync(topic, channel, query.GetValueOrDefault("include_clients") != "false", query.GetValueOrDefault("include_mem") != "false", Token), ctx.NsqdStats),
                        badTopic || badChannel);
                case ("POST", "/topic/create" or "/topic/delete" or "/topic/empty" or "/topic/pause" or "/topic/unpause") when topic is not null:
                    return Command((n, _) => NsqdTopicCommand(n, path, topic), badTopic);
                case ("POST", "/channel/create" or "/channel/delete" or "/channel/empty" or "/channel/pause" or "/channel/unpause") when topic is not null && channel is not null:
                    return Command((n, _) => NsqdChannelCommand(n, path, topic, channel), badTopic || badChannel);
                case ("GET", "/config/nsqlookupd_tcp_addresses"):
                    return new(async (n, _) => JsonSerializer.SerializeToElement((await n.GetLookupdTcpAddressesAsync(Token)).ToArray(), ctx.StringArray), false);
                case ("GET", _) when path.StartsWith("/config/", StringComparison.Ordinal):
                    return new(async (n, _) => await n.GetConfigAsync(path["/config/".Length..], Token), false);
                case ("PUT", _) when path.StartsWith("/config/", StringComparison.Ordinal):
                    return new(async (n, _) => await n.SetConfigAsync(path["/config/".Length..], Encoding.UTF8.GetString(body), Token), body.Length == 0);
                default:
                    return null;
            }
        }

        switch (step.Method, path)
        {
            case ("GET", "/ping"):
                return Command((_, l) => l.PingAsync(Token));
            case ("GET", "/info"):
                return new((_, l) => Json(l.InfoAsync(Token), ctx.NsqLookupdInfo), false);
            case ("GET", "/lookup") when topic is not null:
                return new((_, l) => Json(l.LookupAsync(topic, Token), ctx.NsqLookupResult), badTopic, EmptyOnTopicNotFound: true);
            case ("GET", "/topics"):
                return new(async (_, l) => JsonSerializer.SerializeToElement(new NsqLookupTopicsResponse { Topics = await l.TopicsAsync(Token) }, ctx.NsqLookupTopicsResponse), false);
            case ("GET", "/channels") when topic is not null:
                return new(async (_, l) => JsonSerializer.SerializeToElement(new NsqLookupChannelsResponse { Channels = await l.ChannelsAsync(topic, Token) }, ctx.NsqLookupChannelsResponse), badTopic);
            case ("GET", "/nodes"):
                return new(async (_, l) => JsonSerializer.SerializeToElement(new NsqLookupNodesResponse { Producers = await l.NodesAsync(Token) }, ctx.NsqLookupNodesResponse), false);
            case ("POST", "/topic/create") when topic is not null:
                return Command((_, l) => l.CreateTopicAsync(topic, Token), badTopic);
            case ("POST", "/topic/delete") when topic is not null:
                return Command((_, l) => l.DeleteTopicAsync(topic, Token), badTopic);
            case ("POST", "/channel/create") when topic is not null && channel is not null:
                return Command((_, l) => l.CreateChannelAsync(topic, channel, Token), badTopic || badChannel);
            case ("POST", "/channel/delete") when topic is not null && channel is not null:
                return Command((_, l) => l.DeleteChannelAsync(topic, channel, Token), badTopic || badChannel);
            case ("POST", "/topic/tombstone") when topic is not null && query.TryGetValue("node", out var node):
                return Command((_, l) => l.TombstoneTopicProducerAsync(topic, node, Token), badTopic);
            default:
                return null;
        }
    }

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static StepCall Command(Func<NsqdHttpClient, LookupdClient, ValueTask> command, bool expectArgumentError = false) =>
        new(async (n, l) =>
        {
            await command(n, l);
            return null;
        }, expectArgumentError);

    private static async ValueTask<JsonElement?> Json<T>(ValueTask<T> call, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) =>
        JsonSerializer.SerializeToElement(await call, typeInfo);

    private static ValueTask NsqdTopicCommand(NsqdHttpClient nsqd, string path, string topic) => path switch
    {
        "/topic/create" => nsqd.CreateTopicAsync(topic, Token),
        "/topic/delete" => nsqd.DeleteTopicAsync(topic, Token),
        "/topic/empty" => nsqd.EmptyTopicAsync(topic, Token),
        "/topic/pause" => nsqd.PauseTopicAsync(topic, Token),
        _ => nsqd.UnpauseTopicAsync(topic, Token),
    };

    private static ValueTask NsqdChannelCommand(NsqdHttpClient nsqd, string path, string topic, string channel) => path switch
    {
        "/channel/create" => nsqd.CreateChannelAsync(topic, channel, Token),
        "/channel/delete" => nsqd.DeleteChannelAsync(topic, channel, Token),
        "/channel/empty" => nsqd.EmptyChannelAsync(topic, channel, Token),
        "/channel/pause" => nsqd.PauseChannelAsync(topic, channel, Token),
        _ => nsqd.UnpauseChannelAsync(topic, channel, Token),
    };

    private static (string Path, Dictionary<string, string> Query) SplitPath(string pathAndQuery)
    {
        var question = pathAndQuery.IndexOf('?');
        var query = new Dictionary<string, string>(StringComparer.Ordinal);
        if (question < 0)
        {
            return (pathAndQuery, query);
        }

        foreach (var pair in pathAndQuery[(question + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=');
            var name = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var value = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..].Replace('+', ' '));
            query.TryAdd(name, value);
        }

        return (pathAndQuery[..question], query);
    }

    /// <summary>The body to serve: exact when recorded exactly, else the recording run's observed body.</summary>
    private static byte[] ServedBody(ConformanceStep step)
    {
        if (step.BodyExact == true)
        {
            return step.BodyHex is { } hex ? ConformanceHex.Parse(hex) : Encoding.UTF8.GetBytes(step.BodyText ?? "");
        }

        return Encoding.UTF8.GetBytes(step.ObservedBodyText ?? throw new InvalidOperationException("Variable body without observed.body_text."));
    }

    private static HttpResponseMessage BuildResponse(ConformanceStep step, byte[] body)
    {
        var response = new HttpResponseMessage((HttpStatusCode)step.Status!.Value) { Content = new ByteArrayContent(body) };
        foreach (var (name, value) in step.ResponseHeaders)
        {
            if (name is "Date" or "Content-Length" or "Transfer-Encoding")
            {
                continue;
            }

            if (!response.Headers.TryAddWithoutValidation(name, value))
            {
                response.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return response;
    }

    private static byte[][]? ParseBinaryBatch(byte[] body)
    {
        if (body.Length < 4)
        {
            return body.Length == 0 ? [] : null;
        }

        var count = BinaryPrimitives.ReadInt32BigEndian(body);
        var bodies = new List<byte[]>();
        var offset = 4;
        for (var i = 0; i < count; i++)
        {
            if (offset + 4 > body.Length)
            {
                return null;
            }

            var size = BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(offset));
            offset += 4;
            if (size < 0 || offset + size > body.Length)
            {
                return null;
            }

            bodies.Add(body.AsSpan(offset, size).ToArray());
            offset += size;
        }

        return offset == body.Length ? bodies.ToArray() : null;
    }

    private static string[] SplitTextBatch(byte[] body) =>
        Encoding.UTF8.GetString(body).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static JsonElement ParseJson(byte[] body)
    {
        using var document = JsonDocument.Parse(body);
        return document.RootElement.Clone();
    }

    /// <summary>
    /// Every member of the served JSON must come back from the parsed model with the same value: proves each
    /// field nsqd sends is mapped. nsqd's <c>null</c> lists are empty lists in the models.
    /// </summary>
    private static void AssertCovers(JsonElement served, JsonElement parsed, string path)
    {
        switch (served.ValueKind)
        {
            case JsonValueKind.Object:
                Assert.True(parsed.ValueKind == JsonValueKind.Object, $"{path}: expected an object, parsed {parsed.ValueKind}.");
                foreach (var member in served.EnumerateObject())
                {
                    Assert.True(parsed.TryGetProperty(member.Name, out var value), $"{path}/{member.Name} is not mapped by the model.");
                    AssertCovers(member.Value, value, path + "/" + member.Name);
                }

                break;
            case JsonValueKind.Array:
                Assert.True(parsed.ValueKind == JsonValueKind.Array, $"{path}: expected an array, parsed {parsed.ValueKind}.");
                Assert.True(served.GetArrayLength() == parsed.GetArrayLength(), $"{path}: {served.GetArrayLength()} elements served, {parsed.GetArrayLength()} parsed.");
                var index = 0;
                foreach (var (s, p) in served.EnumerateArray().Zip(parsed.EnumerateArray()))
                {
                    AssertCovers(s, p, $"{path}/{index++}");
                }

                break;
            case JsonValueKind.Null:
                Assert.True(
                    parsed.ValueKind == JsonValueKind.Null || (parsed.ValueKind == JsonValueKind.Array && parsed.GetArrayLength() == 0),
                    $"{path}: served null, parsed {parsed.GetRawText()}.");
                break;
            default:
                Assert.True(JsonElement.DeepEquals(served, parsed), $"{path}: served {served.GetRawText()}, parsed {parsed.GetRawText()}.");
                break;
        }
    }

}
