using System.Net.Http;
using System.Net.Security;
using System.Text;
using System.Text.Json;

namespace NsqTyped.Testing.Tests.Http;

/// <summary>nsqd HTTP behaviour the recorded fixtures do not cover (HTTPS, routing corners, run-time config).</summary>
public sealed class NsqdHttpApiTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Https_listener_serves_the_api_while_plain_http_answers_tls_required()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions
        {
            HttpsAddress = "127.0.0.1:0",
            TlsCertificate = Support.TestCertificates.Server,
            TlsRequired = NsqdTlsRequirement.Required,
        }, Token);
        Assert.NotNull(nsqd.HttpsEndPoint);

        var plain = await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "GET", "/ping", [], null, Token);
        Assert.Equal(403, plain.Status);
        Assert.Equal("{\"message\": \"TLS_REQUIRED\", \"https_port\": " + nsqd.HttpsEndPoint!.Port + "}", plain.BodyText);

        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        };
        using var client = new HttpClient(handler);
        using var ping = await client.GetAsync($"https://{nsqd.HttpsAddress}/ping", Token);
        Assert.Equal(200, (int)ping.StatusCode);
        Assert.Equal("OK", await ping.Content.ReadAsStringAsync(Token));
        using var pub = await client.PostAsync($"https://{nsqd.HttpsAddress}/pub?topic=over.https", new ByteArrayContent("m"u8.ToArray()), Token);
        Assert.Equal(200, (int)pub.StatusCode);
        using var stats = await client.GetAsync($"https://{nsqd.HttpsAddress}/stats?format=json&topic=over.https", Token);
        using var json = JsonDocument.Parse(await stats.Content.ReadAsStringAsync(Token));
        Assert.Equal(1, json.RootElement.GetProperty("topics")[0].GetProperty("message_count").GetInt32());
    }

    [Fact]
    public async Task Client_auth_policy_makes_https_require_a_client_certificate_and_refuses_plain_http()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions
        {
            HttpsAddress = "127.0.0.1:0",
            TlsCertificate = Support.TestCertificates.Server,
            TlsClientAuthPolicy = NsqdTlsClientAuthPolicy.Require,
        }, Token);

        var plain = await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "GET", "/ping", [], null, Token);
        Assert.Equal(403, plain.Status);

        using var anonymous = HttpsClient(clientCertificate: null);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => anonymous.GetAsync($"https://{nsqd.HttpsAddress}/ping", Token));

        using var identified = HttpsClient(Support.TestCertificates.Client);
        using var ping = await identified.GetAsync($"https://{nsqd.HttpsAddress}/ping", Token);
        Assert.Equal("OK", await ping.Content.ReadAsStringAsync(Token));
    }

    private static HttpClient HttpsClient(System.Security.Cryptography.X509Certificates.X509Certificate2? clientCertificate)
    {
        var ssl = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, _, _, _) => true };
        if (clientCertificate is not null)
        {
            ssl.ClientCertificates = [clientCertificate];
        }

        return new HttpClient(new SocketsHttpHandler { SslOptions = ssl });
    }

    [Fact]
    public async Task Taken_http_port_fails_the_start_with_a_socket_exception()
    {
        await using var first = await EmbeddedNsqd.StartAsync(cancellationToken: Token);

        await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(() =>
            EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { HttpAddress = first.HttpAddress }, Token));
    }

    [Fact]
    public async Task Options_request_lists_the_allowed_methods_without_a_body()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: Token);

        var response = await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "OPTIONS", "/config/log_level", [new("Content-Length", "0")], null, Token);

        Assert.Equal(200, response.Status);
        Assert.Equal(["GET, OPTIONS, PUT"], response.HeaderValues("Allow"));
        Assert.Equal(["0"], response.HeaderValues("Content-Length"));
        Assert.Empty(response.HeaderValues("Content-Type"));
        Assert.Empty(response.HeaderValues("X-Nsq-Content-Type"));
    }

    [Fact]
    public async Task Trailing_slash_and_wrong_case_redirect_like_httprouter()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: Token);

        var slash = await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "GET", "/stats/?format=json", [], null, Token);
        var upper = await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "POST", "/TOPIC/Create?topic=t", [new("Content-Length", "0")], null, Token);

        Assert.Equal(301, slash.Status);
        Assert.Equal(["/stats?format=json"], slash.HeaderValues("Location"));
        Assert.Equal("<a href=\"/stats?format=json\">Moved Permanently</a>.\n\n", slash.BodyText);
        Assert.Equal(307, upper.Status);
        Assert.Equal("Temporary Redirect", upper.Reason);
        Assert.Equal(["/topic/create?topic=t"], upper.HeaderValues("Location"));
    }

    [Fact]
    public async Task Malformed_query_is_an_invalid_request()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: Token);

        var response = await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "POST", "/pub?topic=a;b", [new("Content-Length", "1")], "x"u8.ToArray(), Token);

        Assert.Equal(400, response.Status);
        Assert.Equal("{\"message\":\"INVALID_REQUEST\"}", response.BodyText);
    }

    [Fact]
    public async Task String_options_are_reported_raw_and_durations_in_nanoseconds()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { MsgTimeout = TimeSpan.FromSeconds(2) }, Token);

        var address = await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "GET", "/config/broadcast_address", [], null, Token);
        var timeout = await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "GET", "/config/msg_timeout", [], null, Token);

        Assert.Equal("127.0.0.1", address.BodyText);
        Assert.Equal(["text/plain; charset=utf-8"], address.HeaderValues("Content-Type"));
        Assert.Equal("2000000000", timeout.BodyText);
        Assert.Equal(["application/json; charset=utf-8"], timeout.HeaderValues("Content-Type"));
    }

    [Fact]
    public async Task Put_lookupd_addresses_makes_nsqd_register_with_the_new_lookupd()
    {
        await using var lookupd = await EmbeddedNsqlookupd.StartAsync(cancellationToken: Token);
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: Token);
        var created = await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "POST", "/topic/create?topic=late.registration", [new("Content-Length", "0")], null, Token);
        Assert.Equal(200, created.Status);

        var body = Encoding.UTF8.GetBytes("[\"" + lookupd.TcpAddress + "\"]");
        var put = await RawHttpClient.SendAsync(
            nsqd.HttpEndPoint, "PUT", "/config/nsqlookupd_tcp_addresses", [new("Content-Length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))], body, Token);

        Assert.Equal(200, put.Status);
        Assert.Equal("[\"" + lookupd.TcpAddress + "\"]", put.BodyText);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        RawHttpResponse topics;
        do
        {
            topics = await RawHttpClient.SendAsync(lookupd.HttpEndPoint, "GET", "/topics", [], null, Token);
            if (topics.BodyText.Contains("late.registration", StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(20, Token);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Equal("{\"topics\":[\"late.registration\"]}", topics.BodyText);
    }

    [Fact]
    public async Task Paused_topic_and_channel_are_marked_in_the_text_stats()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: Token);
        foreach (var path in new[] { "/topic/create?topic=t1", "/channel/create?topic=t1&channel=c1", "/topic/pause?topic=t1", "/channel/pause?topic=t1&channel=c1" })
        {
            Assert.Equal(200, (await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "POST", path, [new("Content-Length", "0")], null, Token)).Status);
        }

        var stats = await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "GET", "/stats?include_mem=false", [], null, Token);

        Assert.Contains("\nTopics:\n*P [t1             ] depth: 0     be-depth: 0     msgs: 0        e2e%: \n   *P [c1                       ] depth: 0", stats.BodyText, StringComparison.Ordinal);
        Assert.EndsWith("\nProducers: None\n", stats.BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deferred_http_publish_is_held_until_the_deferral_ends()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: Token);
        await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "POST", "/channel/create?topic=d&channel=c", [new("Content-Length", "0")], null, Token);
        Assert.Equal(404, (await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "POST", "/channel/create?topic=d&channel=c", [new("Content-Length", "0")], null, Token)).Status);
        await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "POST", "/topic/create?topic=d", [new("Content-Length", "0")], null, Token);
        await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "POST", "/channel/create?topic=d&channel=c", [new("Content-Length", "0")], null, Token);

        var pub = await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "POST", "/pub?topic=d&defer=60000", [new("Content-Length", "1")], "x"u8.ToArray(), Token);
        var stats = await RawHttpClient.SendAsync(nsqd.HttpEndPoint, "GET", "/stats?format=json&topic=d&channel=c&include_mem=false", [], null, Token);

        Assert.Equal(200, pub.Status);
        using var json = JsonDocument.Parse(stats.Body);
        var channel = json.RootElement.GetProperty("topics")[0].GetProperty("channels")[0];
        Assert.Equal(1, channel.GetProperty("deferred_count").GetInt32());
        Assert.Equal(0, channel.GetProperty("depth").GetInt32());
    }
}
