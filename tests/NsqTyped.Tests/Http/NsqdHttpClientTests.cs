using System.Net;
using System.Text;

namespace NsqTyped.Tests.Http;

/// <summary>Behaviour of <see cref="NsqdHttpClient"/> against an in-memory handler: requests, answers, errors.</summary>
public sealed class NsqdHttpClientTests
{
    private static readonly Uri Base = new("http://127.0.0.1:4151/");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static (NsqdHttpClient Client, FakeHttpHandler Handler, HttpClient Http) Create(FakeHttpHandler? handler = null, NsqdHttpClientOptions? options = null)
    {
        handler ??= FakeHttpHandler.Always("OK", contentTypeless: true);
        var http = new HttpClient(handler);
        return (new NsqdHttpClient(Base, http, options), handler, http);
    }

    [Fact]
    public async Task Publish_posts_the_body_to_pub_with_the_topic()
    {
        var (client, handler, _) = Create();

        await client.PublishAsync("orders", "hello"u8.ToArray(), Token);

        var request = Assert.Single(handler.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/pub?topic=orders", request.PathAndQuery);
        Assert.Equal("hello", request.BodyText);
    }

    [Fact]
    public async Task Publish_with_defer_sends_whole_milliseconds()
    {
        var (client, handler, _) = Create();

        await client.PublishAsync("orders", "x"u8.ToArray(), TimeSpan.FromMilliseconds(1500.7), Token);

        Assert.Equal("/pub?topic=orders&defer=1500", Assert.Single(handler.Requests).PathAndQuery);
    }

    [Fact]
    public async Task Publish_deferred_through_the_publisher_interface_uses_pub_with_defer()
    {
        var (client, handler, _) = Create();
        INsqPublisher publisher = client;

        await publisher.PublishDeferredAsync("orders", "x"u8.ToArray(), TimeSpan.FromSeconds(2), Token);

        Assert.Equal("/pub?topic=orders&defer=2000", Assert.Single(handler.Requests).PathAndQuery);
    }

    [Fact]
    public async Task A_defer_above_MaxReqTimeout_or_negative_is_refused_before_sending_and_the_limit_itself_is_sent()
    {
        var (client, handler, _) = Create(options: NsqdHttpClientOptions.Default with { MaxReqTimeout = TimeSpan.FromSeconds(2) });

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await client.PublishAsync("orders", "x"u8.ToArray(), TimeSpan.FromMilliseconds(2001), Token));
        Assert.Equal("defer", error.ParamName);
        Assert.Contains("NsqdHttpClientOptions.MaxReqTimeout", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await ((INsqPublisher)client).PublishDeferredAsync("orders", "x"u8.ToArray(), TimeSpan.FromMilliseconds(-1), Token));
        Assert.Empty(handler.Requests);

        await client.PublishAsync("orders", "x"u8.ToArray(), TimeSpan.FromSeconds(2), Token);
        Assert.Equal("/pub?topic=orders&defer=2000", Assert.Single(handler.Requests).PathAndQuery);
        Assert.Equal(TimeSpan.FromHours(1), NsqdHttpClientOptions.Default.MaxReqTimeout);
    }

    [Fact]
    public async Task Publish_to_an_ephemeral_topic_escapes_the_hash()
    {
        var (client, handler, _) = Create();

        await client.PublishAsync("orders#ephemeral", "x"u8.ToArray(), Token);

        Assert.Equal("/pub?topic=orders%23ephemeral", Assert.Single(handler.Requests).PathAndQuery);
    }

    [Fact]
    public async Task Publish_many_in_binary_mode_writes_count_and_sized_bodies()
    {
        var (client, handler, _) = Create();

        await client.PublishManyAsync("orders", ["six"u8.ToArray(), "seven"u8.ToArray()], Token);

        var request = Assert.Single(handler.Requests);
        Assert.Equal("/mpub?topic=orders&binary=true", request.PathAndQuery);
        Assert.Equal("000000020000000373697800000005736576656e", Convert.ToHexStringLower(request.Body));
    }

    [Fact]
    public async Task Publish_many_in_binary_mode_carries_newlines_and_binary_bytes()
    {
        var (client, handler, _) = Create();

        await client.PublishManyAsync("orders", [new byte[] { 0x0a, 0x00, 0xff }], binary: true, Token);

        Assert.Equal("00000001000000030a00ff", Convert.ToHexStringLower(Assert.Single(handler.Requests).Body));
    }

    [Fact]
    public async Task Publish_many_in_text_mode_joins_bodies_with_newlines()
    {
        var (client, handler, _) = Create();

        await client.PublishManyAsync("orders", ["one"u8.ToArray(), "two"u8.ToArray(), "three"u8.ToArray()], binary: false, Token);

        var request = Assert.Single(handler.Requests);
        Assert.Equal("/mpub?topic=orders", request.PathAndQuery);
        Assert.Equal("one\ntwo\nthree", request.BodyText);
    }

    [Fact]
    public async Task Publish_many_in_text_mode_rejects_a_body_with_a_newline_before_sending()
    {
        var (client, handler, _) = Create();

        var ex = await Assert.ThrowsAsync<ArgumentException>(async () =>
            await client.PublishManyAsync("orders", ["ok"u8.ToArray(), "two\nlines"u8.ToArray()], binary: false, Token));

        Assert.Equal("bodies", ex.ParamName);
        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task Bodies_are_checked_against_the_size_limits_before_sending()
    {
        var (client, handler, _) = Create(options: new NsqdHttpClientOptions { MaxMessageSize = 4, MaxBodySize = 20 });

        await Assert.ThrowsAsync<ArgumentException>(async () => await client.PublishAsync("t", new byte[5], Token));
        await Assert.ThrowsAsync<ArgumentException>(async () => await client.PublishManyAsync("t", [new byte[5]], Token));
        // 4 + 3 × (4 + 4) = 28 bytes > 20, although each message fits.
        await Assert.ThrowsAsync<ArgumentException>(async () => await client.PublishManyAsync("t", [new byte[4], new byte[4], new byte[4]], Token));
        Assert.Empty(handler.Requests);

        await client.PublishAsync("t", new byte[4], Token);
        await client.PublishManyAsync("t", [new byte[4], new byte[4]], Token);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task Empty_bodies_and_batches_are_rejected_before_sending()
    {
        var (client, handler, _) = Create();

        await Assert.ThrowsAsync<ArgumentException>(async () => await client.PublishAsync("t", ReadOnlyMemory<byte>.Empty, Token));
        await Assert.ThrowsAsync<ArgumentException>(async () => await client.PublishManyAsync("t", [], Token));
        await Assert.ThrowsAsync<ArgumentException>(async () => await client.PublishManyAsync("t", ["a"u8.ToArray(), Array.Empty<byte>()], Token));
        await Assert.ThrowsAsync<ArgumentException>(async () => await client.PublishManyAsync("t", [], binary: false, Token));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await client.PublishManyAsync("t", null!, Token));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await client.PublishAsync("t", "x"u8.ToArray(), TimeSpan.FromMilliseconds(-1), Token));
        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task Invalid_topic_and_channel_names_are_rejected_by_every_method_before_sending()
    {
        var (client, handler, _) = Create();
        string[] badNames = ["", "bad!topic", "bad/ch", new string('t', 65), "#ephemeral", "a b"];
        foreach (var bad in badNames)
        {
            Func<ValueTask>[] calls =
            [
                () => client.PublishAsync(bad, "x"u8.ToArray(), Token),
                () => client.PublishAsync(bad, "x"u8.ToArray(), TimeSpan.FromSeconds(1), Token),
                () => client.PublishManyAsync(bad, ["x"u8.ToArray()], Token),
                () => client.PublishManyAsync(bad, ["x"u8.ToArray()], binary: false, Token),
                () => client.CreateTopicAsync(bad, Token),
                () => client.DeleteTopicAsync(bad, Token),
                () => client.EmptyTopicAsync(bad, Token),
                () => client.PauseTopicAsync(bad, Token),
                () => client.UnpauseTopicAsync(bad, Token),
                () => client.CreateChannelAsync(bad, "ch", Token),
                () => client.CreateChannelAsync("t", bad, Token),
                () => client.DeleteChannelAsync(bad, "ch", Token),
                () => client.DeleteChannelAsync("t", bad, Token),
                () => client.EmptyChannelAsync("t", bad, Token),
                () => client.PauseChannelAsync("t", bad, Token),
                () => client.UnpauseChannelAsync("t", bad, Token),
                async () => await client.StatsAsync(topic: bad, cancellationToken: Token),
                async () => await client.StatsAsync(channel: bad, cancellationToken: Token),
            ];
            for (var i = 0; i < calls.Length; i++)
            {
                var call = calls[i];
                var ex = await Record.ExceptionAsync(async () => await call());
                Assert.True(ex is ArgumentException, $"call {i} with '{bad}' threw {ex?.GetType().Name ?? "nothing"}");
            }
        }

        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task Admin_methods_post_to_their_endpoints()
    {
        var (client, handler, _) = Create(FakeHttpHandler.Always(""));

        await client.CreateTopicAsync("t", Token);
        await client.PauseTopicAsync("t", Token);
        await client.UnpauseTopicAsync("t", Token);
        await client.EmptyTopicAsync("t", Token);
        await client.CreateChannelAsync("t", "c", Token);
        await client.PauseChannelAsync("t", "c", Token);
        await client.UnpauseChannelAsync("t", "c", Token);
        await client.EmptyChannelAsync("t", "c", Token);
        await client.DeleteChannelAsync("t", "c", Token);
        await client.DeleteTopicAsync("t", Token);

        Assert.All(handler.Requests, r => Assert.Equal("POST", r.Method));
        Assert.Equal(
            [
                "/topic/create?topic=t", "/topic/pause?topic=t", "/topic/unpause?topic=t", "/topic/empty?topic=t",
                "/channel/create?topic=t&channel=c", "/channel/pause?topic=t&channel=c", "/channel/unpause?topic=t&channel=c",
                "/channel/empty?topic=t&channel=c", "/channel/delete?topic=t&channel=c", "/topic/delete?topic=t",
            ],
            handler.Requests.Select(r => r.PathAndQuery));
    }

    [Fact]
    public async Task Every_request_asks_for_the_v1_answer_format()
    {
        var (client, handler, _) = Create();

        await client.PingAsync(Token);
        await client.PublishAsync("t", "x"u8.ToArray(), Token);

        Assert.All(handler.Requests, r => Assert.Equal("application/vnd.nsq; version=1.0", r.Accept));
    }

    [Fact]
    public async Task Stats_sends_only_the_filters_that_differ_from_nsqd_defaults()
    {
        var (client, handler, _) = Create(FakeHttpHandler.Always("""{"version":"1.3.0","health":"OK","start_time":1,"topics":[],"producers":null}"""));

        await client.StatsAsync(cancellationToken: Token);
        await client.StatsAsync("t", "c", includeClients: false, includeMemory: false, Token);
        await client.StatsAsync(channel: "c", cancellationToken: Token);

        Assert.Equal(
            ["/stats?format=json", "/stats?format=json&topic=t&channel=c&include_clients=false&include_mem=false", "/stats?format=json&channel=c"],
            handler.Requests.Select(r => r.PathAndQuery));
    }

    [Fact]
    public async Task Stats_turns_nsqd_nulls_into_empty_lists()
    {
        var (client, _, _) = Create(FakeHttpHandler.Always(
            """{"version":"1.3.0","health":"OK","start_time":1795959714,"topics":[{"topic_name":"t","channels":[{"channel_name":"c","depth":2,"clients":null,"e2e_processing_latency":{"count":0,"percentiles":null}}],"depth":1,"e2e_processing_latency":null}],"producers":null}"""));

        var stats = await client.StatsAsync(cancellationToken: Token);

        var topic = Assert.Single(stats.Topics);
        Assert.Empty(stats.Producers);
        Assert.Null(stats.Memory);
        Assert.Equal(2, topic.FindChannel("c")!.Depth);
        Assert.Empty(topic.Channels[0].Clients);
        Assert.Empty(topic.Channels[0].E2eProcessingLatency.Percentiles);
        Assert.Empty(topic.E2eProcessingLatency.Percentiles);
        Assert.Same(topic, stats.FindTopic("t"));
        Assert.Null(stats.FindTopic("other"));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795959714), stats.StartTime);
    }

    [Fact]
    public async Task Stats_reads_latency_percentiles_and_producer_pub_counts()
    {
        var (client, _, _) = Create(FakeHttpHandler.Always(
            """{"version":"1.3.0","health":"OK","start_time":1,"topics":[{"topic_name":"t","channels":[],"e2e_processing_latency":{"count":3,"percentiles":[{"quantile":0.99,"value":1500000}]}}],"producers":[{"client_id":"p","pub_counts":[{"topic":"t","count":7}]}],"memory":{"heap_objects":12,"gc_total_runs":3}}"""));

        var stats = await client.StatsAsync(cancellationToken: Token);

        var percentile = Assert.Single(stats.Topics[0].E2eProcessingLatency.Percentiles);
        Assert.Equal(0.99, percentile.Quantile);
        Assert.Equal(TimeSpan.FromMilliseconds(1.5), percentile.Value);
        Assert.Equal(7, Assert.Single(Assert.Single(stats.Producers).PubCounts).Count);
        Assert.Equal(12, stats.Memory!.HeapObjects);
        Assert.Equal(3, stats.Memory.GcTotalRuns);
    }

    [Fact]
    public async Task Info_exposes_go_durations_as_timespans()
    {
        var (client, _, _) = Create(FakeHttpHandler.Always(
            """{"version":"1.3.0","broadcast_address":"127.0.0.1","hostname":"vm","http_port":4151,"tcp_port":4150,"start_time":1795959714,"max_heartbeat_interval":60000000000,"max_output_buffer_size":65536,"max_output_buffer_timeout":30000000000,"max_deflate_level":6}"""));

        var info = await client.InfoAsync(Token);

        Assert.Equal("1.3.0", info.Version);
        Assert.Equal(4150, info.TcpPort);
        Assert.Equal(TimeSpan.FromSeconds(60), info.MaxHeartbeatInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), info.MaxOutputBufferTimeout);
        Assert.Equal(65536, info.MaxOutputBufferSize);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795959714), info.StartTime);
    }

    [Fact]
    public async Task An_error_answer_throws_with_status_code_and_raw_body()
    {
        var (client, _, _) = Create(new FakeHttpHandler(_ => FakeHttpHandler.Answer(HttpStatusCode.NotFound, """{"message":"TOPIC_NOT_FOUND"}""")));

        var ex = await Assert.ThrowsAsync<NsqHttpException>(async () => await client.DeleteTopicAsync("missing", Token));

        Assert.Equal(HttpStatusCode.NotFound, ex.StatusCode);
        Assert.Equal("TOPIC_NOT_FOUND", ex.NsqCode);
        Assert.Equal("""{"message":"TOPIC_NOT_FOUND"}""", ex.ResponseBody);
        Assert.IsAssignableFrom<NsqException>(ex);
        Assert.Contains("TOPIC_NOT_FOUND", ex.Message);
    }

    [Fact]
    public async Task An_unhealthy_ping_throws_with_the_text_body_and_no_code()
    {
        var (client, _, _) = Create(new FakeHttpHandler(_ => FakeHttpHandler.Answer(HttpStatusCode.InternalServerError, "NOK - disk full", v1: false, contentType: "text/plain")));

        var ex = await Assert.ThrowsAsync<NsqHttpException>(async () => await client.PingAsync(Token));

        Assert.Equal(HttpStatusCode.InternalServerError, ex.StatusCode);
        Assert.Null(ex.NsqCode);
        Assert.Equal("NOK - disk full", ex.ResponseBody);
    }

    [Fact]
    public async Task Answers_without_the_v1_header_are_unwrapped_from_the_legacy_envelope()
    {
        var (client, _, _) = Create(new FakeHttpHandler(_ => FakeHttpHandler.Answer(
            HttpStatusCode.OK,
            """{"status_code":200,"status_txt":"OK","data":{"version":"0.3.8","health":"OK","start_time":5,"topics":[{"topic_name":"t","depth":4}]}}""",
            v1: false)));

        var stats = await client.StatsAsync(cancellationToken: Token);

        Assert.Equal("0.3.8", stats.Version);
        Assert.Equal(4, Assert.Single(stats.Topics).Depth);
    }

    [Fact]
    public async Task A_legacy_envelope_with_an_error_status_throws_even_under_http_200()
    {
        var (client, _, _) = Create(new FakeHttpHandler(_ => FakeHttpHandler.Answer(
            HttpStatusCode.OK, """{"status_code":500,"status_txt":"INVALID_ARG_TOPIC","data":null}""", v1: false)));

        var ex = await Assert.ThrowsAsync<NsqHttpException>(async () => await client.CreateTopicAsync("t", Token));

        Assert.Equal(HttpStatusCode.InternalServerError, ex.StatusCode);
        Assert.Equal("INVALID_ARG_TOPIC", ex.NsqCode);
    }

    [Fact]
    public async Task A_v1_answer_that_looks_like_an_envelope_is_not_unwrapped()
    {
        var (client, _, _) = Create(FakeHttpHandler.Always("""["status_code"]"""));

        var addresses = await client.GetLookupdTcpAddressesAsync(Token);

        Assert.Equal(["status_code"], addresses);
    }

    [Fact]
    public async Task A_body_that_is_not_the_expected_json_throws_a_protocol_exception()
    {
        var (client, _, _) = Create(FakeHttpHandler.Always("<html>proxy error</html>"));

        var ex = await Assert.ThrowsAsync<NsqProtocolException>(async () => await client.InfoAsync(Token));

        Assert.Contains("proxy error", ex.Message);
    }

    [Fact]
    public async Task A_failed_connection_throws_a_connection_exception()
    {
        var (client, _, _) = Create(new FakeHttpHandler(_ => throw new HttpRequestException("Connection refused")));

        var ex = await Assert.ThrowsAsync<NsqConnectionException>(async () => await client.PingAsync(Token));

        Assert.IsType<HttpRequestException>(ex.InnerException);
    }

    [Fact]
    public async Task A_request_slower_than_the_timeout_throws_a_timeout_exception()
    {
        var handler = new SlowHandler();
        using var client = new NsqdHttpClient(Base, new HttpClient(handler), new NsqdHttpClientOptions { RequestTimeout = TimeSpan.FromMilliseconds(50) });

        await Assert.ThrowsAsync<NsqTimeoutException>(async () => await client.PingAsync(Token));
    }

    [Fact]
    public async Task The_callers_token_cancels_with_operation_canceled()
    {
        var handler = new SlowHandler();
        using var client = new NsqdHttpClient(Base, new HttpClient(handler));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Token);
        cts.CancelAfter(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await client.PingAsync(cts.Token));
    }

    [Fact]
    public async Task Dispose_leaves_an_injected_http_client_usable()
    {
        var (client, handler, http) = Create();

        client.Dispose();

        Assert.False(handler.Disposed);
        using var again = new NsqdHttpClient(Base, http);
        await again.PingAsync(Token);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Dispose_disposes_the_http_client_the_instance_created()
    {
        var client = new NsqdHttpClient(new Uri("http://127.0.0.1:9/"));

        client.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await client.PingAsync(Token));
    }

    [Fact]
    public async Task A_base_address_with_a_path_prefix_keeps_the_prefix()
    {
        var handler = FakeHttpHandler.Always("OK");
        using var client = new NsqdHttpClient(new Uri("http://proxy.local/nsqd"), new HttpClient(handler));

        await client.PingAsync(Token);

        Assert.Equal(new Uri("http://proxy.local/nsqd/"), client.BaseAddress);
        Assert.Equal("/nsqd/ping", Assert.Single(handler.Requests).PathAndQuery);
    }

    [Fact]
    public void Addresses_are_validated_when_the_client_is_created()
    {
        Assert.Throws<ArgumentException>(() => new NsqdHttpClient(""));
        Assert.Throws<ArgumentException>(() => new NsqdHttpClient("   "));
        Assert.Throws<ArgumentNullException>(() => new NsqdHttpClient((string)null!));
        Assert.Throws<ArgumentNullException>(() => new NsqdHttpClient((Uri)null!));
        Assert.Throws<ArgumentException>(() => new NsqdHttpClient(new Uri("/relative", UriKind.Relative)));
        Assert.Throws<ArgumentException>(() => new NsqdHttpClient(new Uri("ftp://127.0.0.1:4151/")));
        Assert.Throws<ArgumentException>(() => new NsqdHttpClient(new Uri("http://127.0.0.1:4151/?x=1")));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NsqdHttpClient(Base, options: new NsqdHttpClientOptions { MaxMessageSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NsqdHttpClient(Base, options: new NsqdHttpClientOptions { RequestTimeout = TimeSpan.Zero }));

        using var fromHostPort = new NsqdHttpClient("127.0.0.1:4151");
        Assert.Equal(new Uri("http://127.0.0.1:4151/"), fromHostPort.BaseAddress);
    }

    [Fact]
    public async Task Lookupd_addresses_are_put_as_a_json_array_and_the_new_list_is_returned()
    {
        var (client, handler, _) = Create(FakeHttpHandler.Always("""["127.0.0.1:4160","10.0.0.2:4160"]"""));

        var result = await client.SetLookupdTcpAddressesAsync(["127.0.0.1:4160", "10.0.0.2:4160"], Token);

        var request = Assert.Single(handler.Requests);
        Assert.Equal("PUT", request.Method);
        Assert.Equal("/config/nsqlookupd_tcp_addresses", request.PathAndQuery);
        Assert.Equal("""["127.0.0.1:4160","10.0.0.2:4160"]""", request.BodyText);
        Assert.Equal(["127.0.0.1:4160", "10.0.0.2:4160"], result);
    }

    [Fact]
    public async Task Config_arguments_are_validated_before_sending()
    {
        var (client, handler, _) = Create();

        await Assert.ThrowsAsync<ArgumentException>(async () => await client.SetLookupdTcpAddressesAsync(["127.0.0.1:4160", " "], Token));
        await Assert.ThrowsAsync<ArgumentException>(async () => await client.SetLookupdTcpAddressesAsync([""], Token));
        await Assert.ThrowsAsync<ArgumentException>(async () => await client.GetConfigAsync("", Token));
        await Assert.ThrowsAsync<ArgumentException>(async () => await client.GetConfigAsync("../stats", Token));
        await Assert.ThrowsAsync<ArgumentException>(async () => await client.SetConfigAsync("log_level", "", Token));
        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task A_null_lookupd_address_list_reads_as_empty()
    {
        var (client, _, _) = Create(FakeHttpHandler.Always("null"));

        Assert.Empty(await client.GetLookupdTcpAddressesAsync(Token));
    }

    [Fact]
    public async Task Generic_config_values_come_back_as_json()
    {
        var (client, handler, _) = Create(FakeHttpHandler.Always("3"));

        var value = await client.SetConfigAsync("log_level", "warn", Token);

        Assert.Equal(3, value.GetInt32());
        Assert.Equal("warn", Encoding.UTF8.GetString(Assert.Single(handler.Requests).Body));
    }

    private sealed class SlowHandler : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }
}
