using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Http;

/// <summary>
/// <see cref="NsqdHttpClient"/> over nsqd's HTTPS listener (<c>--https-address</c> with <c>--tls-cert</c>/<c>--tls-key</c>,
/// real or embedded nsqd on 127.0.0.1) with the connections' <see cref="NsqTlsOptions"/>.
/// </summary>
public sealed class NsqdHttpsTests(NsqTestServers servers)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static NsqTlsOptions TrustTestAuthority => TestCertificates.TrustAuthority;

    [Fact]
    public async Task A_custom_authority_and_target_host_validate_the_server_and_requests_work()
    {
        await using var nsqd = await servers.StartNsqdAsync(TestCertificates.NsqdFlags(TestCertificates.Server), Ct);
        using var client = new NsqdHttpClient("https://" + nsqd.HttpsAddress, options: NsqdHttpClientOptions.Default with { Tls = TrustTestAuthority });
        var topic = NsqTestServers.UniqueTopic("https.pub");

        await client.PingAsync(Ct);
        await client.PublishAsync(topic, "over tls"u8.ToArray(), Ct);

        var stats = await client.StatsAsync(topic: topic, cancellationToken: Ct);
        Assert.Equal(1, stats.FindTopic(topic)!.MessageCount);
    }

    [Fact]
    public async Task An_untrusted_server_certificate_is_refused_by_default()
    {
        await using var nsqd = await servers.StartNsqdAsync(TestCertificates.NsqdFlags(TestCertificates.CreateUntrustedServer()), Ct);
        using var client = new NsqdHttpClient("https://" + nsqd.HttpsAddress, options: NsqdHttpClientOptions.Default with { Tls = new NsqTlsOptions { TargetHost = "localhost" } });

        var error = await Assert.ThrowsAsync<NsqConnectionException>(async () => await client.PingAsync(Ct));

        Assert.IsType<AuthenticationException>(Assert.IsType<HttpRequestException>(error.InnerException).InnerException);
    }

    [Fact]
    public async Task The_target_host_is_the_name_the_certificate_must_match()
    {
        // The certificate is valid for localhost and 127.0.0.1, the address connected to: only the target host can make it fail.
        await using var nsqd = await servers.StartNsqdAsync(TestCertificates.NsqdFlags(TestCertificates.Server), Ct);
        using var client = new NsqdHttpClient("https://" + nsqd.HttpsAddress, options: NsqdHttpClientOptions.Default with { Tls = TrustTestAuthority with { TargetHost = "nsqd.example.org" } });

        var error = await Assert.ThrowsAsync<NsqConnectionException>(async () => await client.PingAsync(Ct));

        Assert.IsType<AuthenticationException>(Assert.IsType<HttpRequestException>(error.InnerException).InnerException);
    }

    [Fact]
    public async Task The_validation_callback_replaces_the_default_validation()
    {
        await using var nsqd = await servers.StartNsqdAsync(TestCertificates.NsqdFlags(TestCertificates.CreateUntrustedServer()), Ct);
        X509Certificate? seen = null;
        var tls = new NsqTlsOptions { RemoteCertificateValidationCallback = (_, certificate, _, _) => { seen = certificate; return true; } };
        using var client = new NsqdHttpClient("https://" + nsqd.HttpsAddress, options: NsqdHttpClientOptions.Default with { Tls = tls });

        await client.PingAsync(Ct);

        Assert.NotNull(seen);
    }

    [Fact]
    public async Task A_client_certificate_is_presented_when_the_server_requires_one()
    {
        await using var nsqd = await servers.StartNsqdAsync(
            [
                .. TestCertificates.NsqdFlags(TestCertificates.Server),
                "--tls-client-auth-policy=require-verify",
                "--tls-root-ca-file=" + TestCertificates.PemFile(TestCertificates.Authority),
            ],
            Ct);
        using var with = new NsqdHttpClient("https://" + nsqd.HttpsAddress, options: NsqdHttpClientOptions.Default with { Tls = TrustTestAuthority with { ClientCertificate = TestCertificates.Client } });
        using var without = new NsqdHttpClient("https://" + nsqd.HttpsAddress, options: NsqdHttpClientOptions.Default with { Tls = TrustTestAuthority });

        await with.PingAsync(Ct);
        await Assert.ThrowsAsync<NsqConnectionException>(async () => await without.PingAsync(Ct));
    }

    [Fact]
    public void Tls_options_need_an_https_address_and_an_owned_HttpClient()
    {
        var options = NsqdHttpClientOptions.Default with { Tls = TrustTestAuthority };
        using var injected = new HttpClient();

        Assert.Throws<ArgumentException>(() => new NsqdHttpClient("http://127.0.0.1:4151", options: options));
        var error = Assert.Throws<ArgumentException>(() => new NsqdHttpClient("https://127.0.0.1:4152", injected, options));
        Assert.Equal("httpClient", error.ParamName);
        Assert.Throws<ArgumentException>(() => new NsqdHttpClient("https://127.0.0.1:4152", options: NsqdHttpClientOptions.Default with { Tls = new NsqTlsOptions { TargetHost = "" } }));
    }
}
