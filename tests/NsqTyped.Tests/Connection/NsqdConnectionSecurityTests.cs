using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using NsqTyped.Testing;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Connection;

/// <summary>TLS, compression and AUTH negotiated after IDENTIFY.</summary>
public sealed class NsqdConnectionSecurityTests(NsqTestServers servers)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static NsqTlsOptions TrustTestAuthority => TestCertificates.TrustAuthority;

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task Compressed_connection_publishes_and_consumes(bool snappy, bool deflate)
    {
        var options = NsqdConnectionOptions.Default with { Snappy = snappy, Deflate = deflate, DeflateLevel = 3 };
        await RoundTripAsync(servers.NsqdTcpAddress, options, expectTls: false, snappy, deflate);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task Tls_connection_validates_the_server_with_a_custom_authority_and_publishes(bool snappy, bool deflate)
    {
        await using var nsqd = await servers.StartNsqdAsync(TestCertificates.NsqdFlags(TestCertificates.Server), Ct);
        var options = NsqdConnectionOptions.Default with { Tls = TrustTestAuthority, Snappy = snappy, Deflate = deflate };

        await RoundTripAsync(nsqd.TcpAddress, options, expectTls: true, snappy, deflate);
    }

    [Fact]
    public async Task Tls_rejects_an_untrusted_server_certificate_by_default()
    {
        await using var nsqd = await servers.StartNsqdAsync(TestCertificates.NsqdFlags(TestCertificates.CreateUntrustedServer()), Ct);
        var options = NsqdConnectionOptions.Default with { Tls = new NsqTlsOptions { TargetHost = "localhost" } };

        var error = await Assert.ThrowsAsync<NsqHandshakeRefusedException>(async () => await NsqdConnection.ConnectAsync(nsqd.TcpAddress, options, Ct));

        Assert.IsType<AuthenticationException>(error.InnerException);
    }

    [Fact]
    public async Task Tls_rejects_a_certificate_for_another_host()
    {
        await using var nsqd = await servers.StartNsqdAsync(TestCertificates.NsqdFlags(TestCertificates.Server), Ct);
        var options = NsqdConnectionOptions.Default with { Tls = TrustTestAuthority with { TargetHost = "nsqd.example.org" } };

        await Assert.ThrowsAsync<NsqHandshakeRefusedException>(async () => await NsqdConnection.ConnectAsync(nsqd.TcpAddress, options, Ct));
    }

    [Fact]
    public async Task Tls_validation_callback_replaces_the_default_validation()
    {
        await using var nsqd = await servers.StartNsqdAsync(TestCertificates.NsqdFlags(TestCertificates.CreateUntrustedServer()), Ct);
        X509Certificate? seen = null;
        var options = NsqdConnectionOptions.Default with
        {
            Tls = new NsqTlsOptions { RemoteCertificateValidationCallback = (_, certificate, _, _) => { seen = certificate; return true; } },
        };

        await using var connection = await NsqdConnection.ConnectAsync(nsqd.TcpAddress, options, Ct);

        Assert.True(connection.Settings!.TlsV1);
        Assert.NotNull(seen);
    }

    [Fact]
    public async Task Tls_client_certificate_is_presented_when_the_server_requires_one()
    {
        await using var nsqd = await servers.StartNsqdAsync(
            [
                .. TestCertificates.NsqdFlags(TestCertificates.Server),
                "--tls-client-auth-policy=require-verify",
                "--tls-root-ca-file=" + TestCertificates.PemFile(TestCertificates.Authority),
            ],
            Ct);
        var options = NsqdConnectionOptions.Default with { Tls = TrustTestAuthority with { ClientCertificate = TestCertificates.Client } };

        await RoundTripAsync(nsqd.TcpAddress, options, expectTls: true, snappy: false, deflate: false);
    }

    [Fact]
    public async Task Tls_requested_from_a_server_without_tls_is_refused_rather_than_sent_in_plain_text()
    {
        var options = NsqdConnectionOptions.Default with { Tls = TrustTestAuthority };

        var error = await Assert.ThrowsAsync<NsqHandshakeRefusedException>(async () => await NsqdConnection.ConnectAsync(servers.NsqdTcpAddress, options, Ct));

        Assert.Contains("TLS", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Auth_allowed_reports_the_identity_and_publishes()
    {
        await using var auth = TestAuthServer.Start(new SecretAuthorizer());
        await using var nsqd = await servers.StartNsqdAsync(["--auth-http-address=" + auth.Address], Ct);
        var options = NsqdConnectionOptions.Default with { AuthSecret = SecretAuthorizer.GoodSecret };
        var connection = new NsqdConnection(nsqd.TcpAddress, options);
        var authenticated = new TaskCompletionSource<NsqAuthenticatedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.Authenticated += (_, e) => authenticated.TrySetResult(e);
        await using var _ = connection;

        await connection.ConnectAsync(Ct);

        Assert.True(connection.Settings!.AuthRequired);
        Assert.Equal("tester", connection.Identity!.Identity);
        Assert.Equal(1, connection.Identity.PermissionCount);
        Assert.Equal("tester", (await authenticated.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct)).Response.Identity);
        await connection.PublishAsync("allowed.topic", "x"u8.ToArray(), Ct);
    }

    [Fact]
    public async Task Auth_denied_fails_connect_with_the_server_error()
    {
        await using var auth = TestAuthServer.Start(new SecretAuthorizer());
        await using var nsqd = await servers.StartNsqdAsync(["--auth-http-address=" + auth.Address], Ct);
        var options = NsqdConnectionOptions.Default with { AuthSecret = "wrong-secret" };

        var error = await Assert.ThrowsAsync<NsqServerException>(async () => await NsqdConnection.ConnectAsync(nsqd.TcpAddress, options, Ct));

        Assert.Equal(NsqErrorCode.AuthFailed, error.Code);
    }

    [Fact]
    public async Task Auth_without_permission_for_a_topic_fails_that_publish()
    {
        await using var auth = TestAuthServer.Start(new SecretAuthorizer());
        await using var nsqd = await servers.StartNsqdAsync(["--auth-http-address=" + auth.Address], Ct);
        var options = NsqdConnectionOptions.Default with { AuthSecret = SecretAuthorizer.GoodSecret };
        await using var connection = await NsqdConnection.ConnectAsync(nsqd.TcpAddress, options, Ct);

        var error = await Assert.ThrowsAsync<NsqServerException>(async () => await connection.PublishAsync("denied.topic", "x"u8.ToArray(), Ct));

        Assert.Equal(NsqErrorCode.Unauthorized, error.Code);
    }

    [Fact]
    public async Task Auth_required_without_a_secret_fails_with_a_clear_error()
    {
        await using var auth = TestAuthServer.Start(new SecretAuthorizer());
        await using var nsqd = await servers.StartNsqdAsync(["--auth-http-address=" + auth.Address], Ct);

        var error = await Assert.ThrowsAsync<NsqHandshakeRefusedException>(async () => await NsqdConnection.ConnectAsync(nsqd.TcpAddress, cancellationToken: Ct));

        Assert.Contains("AuthSecret", error.Message, StringComparison.Ordinal);
    }

    private static async Task RoundTripAsync(string address, NsqdConnectionOptions options, bool expectTls, bool snappy, bool deflate)
    {
        var topic = NsqTestServers.UniqueTopic();
        await using var producer = await NsqdConnection.ConnectAsync(address, options, Ct);
        await using var consumer = await TestConsumer.StartAsync(address, topic, options: options);

        Assert.Equal(expectTls, producer.Settings!.TlsV1);
        Assert.Equal(snappy, producer.Settings.Snappy);
        Assert.Equal(deflate, producer.Settings.Deflate);

        var big = new string('z', 100_000);
        await producer.PublishAsync(topic, Encoding.ASCII.GetBytes("small"), Ct);
        await producer.PublishManyAsync(topic, [Encoding.ASCII.GetBytes(big), Encoding.ASCII.GetBytes("tail")], Ct);
        var bodies = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var message = await consumer.NextAsync();
            bodies.Add(Encoding.ASCII.GetString(message.Body.Span));
            await message.FinishAsync(Ct);
        }

        Assert.Equal(new[] { "small", big, "tail" }.Order(), bodies.Order());
        Assert.True(consumer.Connection.IsConnected);
    }

    private sealed class SecretAuthorizer : INsqdAuthorizer
    {
        public const string GoodSecret = "good-secret";

        public ValueTask<NsqdAuthState?> AuthorizeAsync(NsqdAuthRequest request, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(request.Secret == GoodSecret
                ? new NsqdAuthState
                {
                    Identity = "tester",
                    Authorizations = [new NsqdAuthorization { Topic = "^allowed", Channels = [".*"], Permissions = ["publish", "subscribe"] }],
                }
                : null);
    }
}
