using System.Text;
using NsqTyped.Protocol;
using NsqTyped.Testing.Tests.Support;

namespace NsqTyped.Testing.Tests.Tcp;

/// <summary>AUTH through an in-process <see cref="INsqdAuthorizer"/>, with nsqd's semantics.</summary>
public sealed class NsqdAuthTests
{
    private sealed class CountingAuthorizer(int ttlSeconds) : INsqdAuthorizer
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public NsqdAuthRequest? LastRequest { get; private set; }

        public ValueTask<NsqdAuthState?> AuthorizeAsync(NsqdAuthRequest request, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            LastRequest = request;
            return ValueTask.FromResult<NsqdAuthState?>(request.Secret switch
            {
                "secret" => new NsqdAuthState
                {
                    Ttl = ttlSeconds,
                    Identity = "tester",
                    IdentityUrl = "https://example.invalid/tester",
                    Authorizations =
                    [
                        // As in nsqd, PUB is checked against the empty channel name, so publishing needs a pattern matching "".
                        new NsqdAuthorization { Topic = "^allowed$", Channels = [".*"], Permissions = ["publish"] },
                        new NsqdAuthorization { Topic = "^allowed$", Channels = ["^ch$"], Permissions = ["subscribe"] },
                        new NsqdAuthorization { Topic = "^readonly$", Channels = [".*"], Permissions = ["subscribe"] },
                    ],
                },
                _ => null,
            });
        }
    }

    [Fact]
    public async Task Authorized_client_may_publish_and_subscribe_where_its_grants_match()
    {
        var authorizer = new CountingAuthorizer(3600);
        await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { Authorizer = authorizer }, TestContext.Current.CancellationToken);
        await using var client = await RawNsqClient.ConnectAsync(nsqd);
        await client.SendAsync(w => NsqCommandWriter.WriteAuth(w, "secret"u8));

        var answer = await client.ReadFrameAsync();
        Assert.Equal("""{"identity":"tester","identity_url":"https://example.invalid/tester","permission_count":3}""", answer.Text);
        Assert.Equal(("127.0.0.1", false, ""), (authorizer.LastRequest!.RemoteIp, authorizer.LastRequest.Tls, authorizer.LastRequest.CommonName));
        await client.PublishAsync("allowed", "x");
        await client.ExpectOkAsync();
        Assert.Equal("tester", Assert.Single(nsqd.Broker.Clients).GetStats().AuthIdentity);

        await client.PublishAsync("readonly", "x");
        var refused = await client.ReadFrameAsync();
        Assert.Equal("E_UNAUTHORIZED AUTH failed for PUB on \"readonly\" \"\"", refused.Text);
        Assert.True(await client.WaitClosedAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Subscribe_needs_a_matching_channel_pattern()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { Authorizer = new CountingAuthorizer(3600) }, TestContext.Current.CancellationToken);
        await using var client = await RawNsqClient.ConnectAsync(nsqd);
        await client.SendAsync(w => NsqCommandWriter.WriteAuth(w, "secret"u8));
        await client.ReadFrameAsync();
        await client.SubscribeAsync("allowed", "other");

        Assert.Equal("E_UNAUTHORIZED AUTH failed for SUB on \"allowed\" \"other\"", (await client.ReadFrameAsync()).Text);
    }

    [Fact]
    public async Task Refused_secret_gets_E_AUTH_FAILED()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { Authorizer = new CountingAuthorizer(3600) }, TestContext.Current.CancellationToken);
        await using var client = await RawNsqClient.ConnectAsync(nsqd);
        await client.SendAsync(w => NsqCommandWriter.WriteAuth(w, "wrong"u8));

        Assert.Equal("E_AUTH_FAILED AUTH failed", (await client.ReadFrameAsync()).Text);
        Assert.True(await client.WaitClosedAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Expired_authorization_is_fetched_again_before_the_next_check()
    {
        var clock = new AdjustableTimeProvider();
        var authorizer = new CountingAuthorizer(ttlSeconds: 60);
        await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { Authorizer = authorizer, TimeProvider = clock }, TestContext.Current.CancellationToken);
        await using var client = await RawNsqClient.ConnectAsync(nsqd, new { client_id = "auth", heartbeat_interval = -1 });
        await client.SendAsync(w => NsqCommandWriter.WriteAuth(w, "secret"u8));
        await client.ReadFrameAsync();
        await client.PublishAsync("allowed", "x");
        await client.ExpectOkAsync();
        Assert.Equal(1, authorizer.Calls);

        clock.Advance(TimeSpan.FromSeconds(61));
        await client.PublishAsync("allowed", "y");
        await client.ExpectOkAsync();
        Assert.Equal(2, authorizer.Calls);
    }

    [Fact]
    public async Task Identify_reports_auth_required_and_commands_need_auth_first()
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { Authorizer = new CountingAuthorizer(3600) }, TestContext.Current.CancellationToken);
        await using var client = await RawNsqClient.ConnectAsync(nsqd);
        await client.SendAsync(w => NsqCommandWriter.WriteIdentify(w, new NsqIdentifyRequest { FeatureNegotiation = true }));
        var identify = NsqIdentifyResponse.Parse(Encoding.UTF8.GetBytes((await client.ReadFrameAsync()).Text));
        Assert.True(identify.AuthRequired);

        await client.SendAsync(w => NsqCommandWriter.WriteMpub(w, "allowed", new ReadOnlyMemory<byte>[] { "a"u8.ToArray() }));
        Assert.Equal("E_AUTH_FIRST AUTH required before MPUB", (await client.ReadFrameAsync()).Text);
    }
}
