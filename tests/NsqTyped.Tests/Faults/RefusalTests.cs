using NsqTyped.Testing;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Faults;

/// <summary>
/// Errors that name their cause: TLS refusals, a URL or an HTTP port given as the TCP address, and
/// permanent refusals failing at once (producer) or raised as events (Reader) instead of being retried
/// until a timeout. Checked against real nsqd v1.3.0 as well (docs/reliability.md).
/// </summary>
public sealed class RefusalTests(NsqTestServers servers)
{
    // Far longer than any test may take: a refusal must not wait for it.
    private static readonly TimeSpan LongWait = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan TestLimit = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static NsqTlsOptions TrustTestAuthority => new()
    {
        TargetHost = "localhost",
        TrustedCertificateAuthorities = [TestCertificates.Authority],
    };

    [Fact]
    public async Task Tls_without_a_client_certificate_where_nsqd_requires_one_says_so()
    {
        await using var nsqd = await StartRequireVerifyAsync();

        var error = await Assert.ThrowsAsync<NsqHandshakeRefusedException>(async () =>
            await NsqdConnection.ConnectAsync(nsqd.TcpAddress, NsqdConnectionOptions.Default with { Tls = TrustTestAuthority }, Ct));

        Assert.Contains("client certificate required", error.Message, StringComparison.Ordinal);
        Assert.Contains("NsqTlsOptions.ClientCertificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_with_a_client_certificate_nsqd_does_not_trust_says_it_was_rejected()
    {
        await using var nsqd = await StartRequireVerifyAsync();
        var options = NsqdConnectionOptions.Default with { Tls = TrustTestAuthority with { ClientCertificate = TestCertificates.CreateUntrustedServer() } };

        var error = await Assert.ThrowsAsync<NsqHandshakeRefusedException>(async () => await NsqdConnection.ConnectAsync(nsqd.TcpAddress, options, Ct));

        Assert.Contains("rejected the client certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_with_a_server_certificate_of_an_unknown_authority_says_unknown_ca()
    {
        await using var nsqd = await servers.StartNsqdAsync(TestCertificates.NsqdFlags(TestCertificates.Server), Ct);
        var options = NsqdConnectionOptions.Default with { Tls = new NsqTlsOptions { TargetHost = "localhost" } };

        var error = await Assert.ThrowsAsync<NsqHandshakeRefusedException>(async () => await NsqdConnection.ConnectAsync(nsqd.TcpAddress, options, Ct));

        Assert.Contains("unknown CA", error.Message, StringComparison.Ordinal);
        Assert.Contains("TrustedCertificateAuthorities", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_with_a_server_certificate_for_another_name_says_name_mismatch()
    {
        await using var nsqd = await servers.StartNsqdAsync(TestCertificates.NsqdFlags(TestCertificates.Server), Ct);
        var options = NsqdConnectionOptions.Default with { Tls = TrustTestAuthority with { TargetHost = "nsqd.example.org" } };

        var error = await Assert.ThrowsAsync<NsqHandshakeRefusedException>(async () => await NsqdConnection.ConnectAsync(nsqd.TcpAddress, options, Ct));

        Assert.Contains("name mismatch", error.Message, StringComparison.Ordinal);
        Assert.Contains("'nsqd.example.org'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:4150", "127.0.0.1:4150")]
    [InlineData("https://nsqd.internal:4150/", "nsqd.internal:4150")]
    [InlineData("tcp://[::1]:4150", "[::1]:4150")]
    public void A_url_given_as_the_tcp_address_is_rejected_with_a_hint(string address, string hint)
    {
        var connection = Assert.Throws<ArgumentException>(() => new NsqdConnection(address));
        Assert.Contains($"'{hint}'", connection.Message, StringComparison.Ordinal);
        Assert.Contains("4151", connection.Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentException>(() => new NsqProducer([address]));
        Assert.Throws<ArgumentException>(() => new NsqReader(new NsqReaderOptions { Topic = "t", Channel = "c", NsqdTcpAddresses = [address] }));
    }

    [Fact]
    public async Task A_tcp_connection_answered_by_an_http_server_says_it_looks_like_the_http_port()
    {
        // nsqd's own HTTP port (embedded, or the real one through NSQD_HTTP_ADDRESS).
        var httpPort = servers.NsqdHttpAddress.Authority;

        var error = await Assert.ThrowsAsync<NsqHandshakeRefusedException>(async () => await NsqdConnection.ConnectAsync(httpPort, cancellationToken: Ct));

        Assert.Contains("HTTP port", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("frame of size", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_producer_fails_connect_at_once_on_a_wrong_auth_secret()
    {
        await using var auth = TestAuthServer.Start(new OneSecretAuthorizer());
        await using var nsqd = await servers.StartNsqdAsync(["--auth-http-address=" + auth.Address], Ct);
        await using var producer = new NsqProducer([nsqd.TcpAddress], new NsqProducerOptions
        {
            DisconnectedWaitTimeout = LongWait,
            Connection = NsqdConnectionOptions.Default with { AuthSecret = "wrong", ConnectTimeout = LongWait },
        });

        var error = await Assert.ThrowsAsync<NsqHandshakeRefusedException>(async () => await producer.ConnectAsync(Ct).AsTask().WaitAsync(TestLimit, Ct));
        Assert.Equal(NsqErrorCode.AuthFailed, Assert.IsType<NsqServerException>(error.InnerException).Code);
        Assert.Contains("E_AUTH_FAILED", error.Message, StringComparison.Ordinal);

        // Publishing waits for a connection the same way, and fails the same way.
        await Assert.ThrowsAsync<NsqHandshakeRefusedException>(async () => await producer.PublishAsync("allowed", "x"u8.ToArray(), Ct).AsTask().WaitAsync(TestLimit, Ct));
    }

    [Fact]
    public async Task A_producer_fails_connect_at_once_when_the_certificate_validation_fails()
    {
        await using var nsqd = await servers.StartNsqdAsync(TestCertificates.NsqdFlags(TestCertificates.Server), Ct);
        await using var producer = new NsqProducer([nsqd.TcpAddress], new NsqProducerOptions
        {
            DisconnectedWaitTimeout = LongWait,
            Connection = NsqdConnectionOptions.Default with { Tls = new NsqTlsOptions { TargetHost = "localhost" }, ConnectTimeout = LongWait },
        });

        var error = await Assert.ThrowsAsync<NsqHandshakeRefusedException>(async () => await producer.ConnectAsync(Ct).AsTask().WaitAsync(TestLimit, Ct));

        Assert.Contains("unknown CA", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reader_raises_a_wrong_auth_secret_as_an_error_event()
    {
        await using var auth = TestAuthServer.Start(new OneSecretAuthorizer());
        await using var nsqd = await servers.StartNsqdAsync(["--auth-http-address=" + auth.Address], Ct);
        var errors = new TaskCompletionSource<NsqServerException>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var reader = new NsqReader(
            new NsqReaderOptions
            {
                Topic = "allowed",
                Channel = "c",
                NsqdTcpAddresses = [nsqd.TcpAddress],
                Connection = NsqdConnectionOptions.Default with { AuthSecret = "wrong" },
            },
            (_, _) => ValueTask.CompletedTask);
        reader.Error += (_, e) => errors.TrySetResult(Assert.IsType<NsqServerException>(e.Exception));
        await reader.StartAsync(Ct);

        var error = await errors.Task.WaitAsync(TestLimit, Ct);

        Assert.Equal(NsqErrorCode.AuthFailed, error.Code);
        Assert.Empty(reader.Connections);
    }

    [Fact]
    public async Task A_reader_raises_a_tls_refusal_as_an_error_event()
    {
        await using var nsqd = await servers.StartNsqdAsync(TestCertificates.NsqdFlags(TestCertificates.Server), Ct);
        var errors = new TaskCompletionSource<NsqErrorEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var reader = new NsqReader(
            new NsqReaderOptions
            {
                Topic = "t",
                Channel = "c",
                NsqdTcpAddresses = [nsqd.TcpAddress],
                Connection = NsqdConnectionOptions.Default with { Tls = new NsqTlsOptions { TargetHost = "localhost" } },
            },
            (_, _) => ValueTask.CompletedTask);
        reader.Error += (_, e) => errors.TrySetResult(e);
        await reader.StartAsync(Ct);

        var error = await errors.Task.WaitAsync(TestLimit, Ct);

        // Not an error frame: the refusal itself, naming its cause.
        Assert.Null(error.Error);
        var refusal = Assert.IsType<NsqHandshakeRefusedException>(error.Exception);
        Assert.Contains("unknown CA", refusal.Message, StringComparison.Ordinal);
        Assert.Empty(reader.Connections);
    }

    [Fact]
    public async Task A_reader_raises_a_subscription_nsqd_does_not_authorize_as_one_error_event_per_attempt()
    {
        await using var auth = TestAuthServer.Start(new OneSecretAuthorizer());
        await using var nsqd = await servers.StartNsqdAsync(["--auth-http-address=" + auth.Address], Ct);
        await using var proxy = FaultProxy.Start(nsqd.TcpAddress);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<NsqServerException>();
        var reader = new NsqReader(
            new NsqReaderOptions
            {
                Topic = "denied",
                Channel = "c",
                NsqdTcpAddresses = [proxy.Address],
                ReconnectDelay = TimeSpan.FromMilliseconds(100),
                MaxReconnectDelay = TimeSpan.FromMilliseconds(200),
                Connection = NsqdConnectionOptions.Default with { AuthSecret = "right" },
            },
            (_, _) => ValueTask.CompletedTask);
        reader.Error += (_, e) => errors.Enqueue(Assert.IsType<NsqServerException>(e.Exception));
        await reader.StartAsync(Ct);
        await NsqTestServers.WaitUntilAsync(() => errors.Count >= 3, TestLimit, "refused SUBs raised");
        await reader.DisposeAsync();

        // Each attempt is one proxied connection and raises its refusal once (the connection's own error event, not a second copy).
        Assert.All(errors, e => Assert.Equal(NsqErrorCode.Unauthorized, e.Code));
        Assert.InRange(errors.Count, 1, proxy.AcceptedCount);
    }

    private Task<TestNsqServer> StartRequireVerifyAsync() =>
        servers.StartNsqdAsync(
            [
                .. TestCertificates.NsqdFlags(TestCertificates.Server),
                "--tls-client-auth-policy=require-verify",
                "--tls-root-ca-file=" + TestCertificates.PemFile(TestCertificates.Authority),
            ],
            Ct);

    private sealed class OneSecretAuthorizer : INsqdAuthorizer
    {
        public ValueTask<NsqdAuthState?> AuthorizeAsync(NsqdAuthRequest request, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(request.Secret == "right"
                ? new NsqdAuthState { Identity = "tester", Authorizations = [new NsqdAuthorization { Topic = "^allowed", Channels = [".*"], Permissions = ["publish", "subscribe"] }] }
                : null);
    }
}
