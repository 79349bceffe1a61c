using System.Security.Cryptography.X509Certificates;
using System.Text;
using NsqTyped.Protocol;
using NsqTyped.Testing.Tests.Support;

namespace NsqTyped.Testing.Tests.Tcp;

/// <summary>TLS and compression upgrades beyond what the small fixture messages exercise.</summary>
public sealed class NsqdStreamUpgradeTests
{
    [Theory]
    [InlineData("snappy")]
    [InlineData("deflate")]
    public async Task Large_messages_survive_compression_both_ways(string compression)
    {
        await using var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        await using var client = await RawNsqClient.ConnectAsync(nsqd);
        var identify = new NsqIdentifyRequest { FeatureNegotiation = true, Snappy = compression == "snappy", Deflate = compression == "deflate" };
        await client.SendAsync(w => NsqCommandWriter.WriteIdentify(w, identify));
        var response = NsqIdentifyResponse.Parse(Encoding.UTF8.GetBytes((await client.ReadFrameAsync()).Text));
        Assert.True(compression == "snappy" ? response.Snappy : response.Deflate);
        client.StartCompression(compression);
        await client.ExpectOkAsync();

        // Several snappy chunks / deflate blocks, not too compressible.
        var body = new byte[300_000];
        new Random(42).NextBytes(body.AsSpan(0, 150_000));
        await client.SendAsync(w => NsqCommandWriter.WritePub(w, "big", body));
        await client.ExpectOkAsync();
        await client.SubscribeAsync("big", "ch");
        await client.ExpectOkAsync();
        await client.ReadyAsync(1);

        var message = await client.ReadMessageAsync();
        Assert.True(message.Data.AsSpan(26).SequenceEqual(body));
        var stats = Assert.Single(nsqd.Broker.Clients).GetStats();
        Assert.Equal((compression == "snappy", compression == "deflate"), (stats.Snappy, stats.Deflate));
    }

    [Fact]
    public async Task Require_verify_accepts_a_client_certificate_that_chains_to_the_root_certificates()
    {
        var options = new EmbeddedNsqdOptions
        {
            TlsCertificate = TestCertificates.Server,
            TlsClientAuthPolicy = NsqdTlsClientAuthPolicy.RequireVerify,
            TlsRootCertificates = [X509CertificateLoader.LoadCertificate(TestCertificates.Client.RawData)],
        };
        await using var nsqd = await EmbeddedNsqd.StartAsync(options, TestContext.Current.CancellationToken);
        await using var client = await UpgradedToTlsAsync(nsqd, TestCertificates.Client);

        await client.ExpectOkAsync();
        await client.PublishAsync("secure", "x");
        await client.ExpectOkAsync();
        var stats = Assert.Single(nsqd.Broker.Clients).GetStats();
        Assert.True(stats.Tls);
        Assert.StartsWith("TLS1.", stats.TlsVersion, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Require_verify_refuses_a_client_certificate_from_an_unknown_authority()
    {
        var options = new EmbeddedNsqdOptions
        {
            TlsCertificate = TestCertificates.Server,
            TlsClientAuthPolicy = NsqdTlsClientAuthPolicy.RequireVerify,
            TlsRootCertificates = [X509CertificateLoader.LoadCertificate(TestCertificates.Server.RawData)],
        };
        await using var nsqd = await EmbeddedNsqd.StartAsync(options, TestContext.Current.CancellationToken);
        await using var client = await UpgradedToTlsAsync(nsqd, TestCertificates.Client);

        var error = await client.ReadFrameAsync();
        Assert.Equal(NsqFrameType.Error, error.Type);
        Assert.StartsWith("E_IDENTIFY_FAILED IDENTIFY failed tls: failed to verify certificate", error.Text, StringComparison.Ordinal);
        Assert.True(await client.WaitClosedAsync(TimeSpan.FromSeconds(5)));
    }

    private static async Task<RawNsqClient> UpgradedToTlsAsync(EmbeddedNsqd nsqd, X509Certificate2? clientCertificate)
    {
        var client = await RawNsqClient.ConnectAsync(nsqd);
        await client.SendAsync(w => NsqCommandWriter.WriteIdentify(w, new NsqIdentifyRequest { FeatureNegotiation = true, TlsV1 = true }));
        var response = NsqIdentifyResponse.Parse(Encoding.UTF8.GetBytes((await client.ReadFrameAsync()).Text));
        Assert.True(response.TlsV1);
        await client.StartTlsAsync(clientCertificate);
        return client;
    }
}
