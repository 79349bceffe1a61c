using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace NsqTyped.Testing.Tests.Support;

/// <summary>Throwaway self-signed certificates for TLS tests, made once per test run.</summary>
internal static class TestCertificates
{
    private static readonly Lazy<(X509Certificate2 Server, string Directory)> s_server = new(CreateServer);
    private static readonly Lazy<X509Certificate2> s_client = new(() => Create("conf-client", serverAuth: false));

    /// <summary>The server certificate (CN=localhost, with private key).</summary>
    public static X509Certificate2 Server => s_server.Value.Server;

    /// <summary>A folder holding <c>server.crt</c> and <c>server.key</c> (PEM) of <see cref="Server"/>, like nsqd's <c>&lt;tls-dir&gt;</c>.</summary>
    public static string ServerDirectory => s_server.Value.Directory;

    /// <summary>A client certificate (CN=conf-client, with private key).</summary>
    public static X509Certificate2 Client => s_client.Value;

    private static (X509Certificate2, string) CreateServer()
    {
        var certificate = Create("localhost", serverAuth: true);
        var directory = Path.Combine(Path.GetTempPath(), "nsqtyped-tls-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "server.crt"), certificate.ExportCertificatePem());
        using var key = certificate.GetRSAPrivateKey()!;
        File.WriteAllText(Path.Combine(directory, "server.key"), key.ExportPkcs8PrivateKeyPem());
        return (certificate, directory);
    }

    private static X509Certificate2 Create(string commonName, bool serverAuth)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest($"CN={commonName}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], critical: false));
        if (serverAuth)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

        // A PKCS#12 round trip gives a certificate whose key every TLS backend can use.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }
}
