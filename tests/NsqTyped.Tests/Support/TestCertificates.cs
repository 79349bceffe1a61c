using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace NsqTyped.Tests.Support;

/// <summary>
/// Throwaway certificates made in the test process. An nsqd (real or embedded, started from flags) reads
/// its certificate, key and client CA from PEM files: <see cref="PemFile"/> and <see cref="KeyPemFile"/>
/// write them to a temporary folder of this test process, removed when it exits.
/// </summary>
public static class TestCertificates
{
    private static readonly Lazy<DirectoryInfo> s_files = new(() =>
    {
        var directory = Directory.CreateTempSubdirectory("nsqtyped-certs-");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                directory.Delete(recursive: true);
            }
            catch (IOException)
            {
                // A leftover temporary folder is harmless.
            }
        };
        return directory;
    });

    private static readonly Lazy<X509Certificate2> s_authority = new(() => CreateAuthority("CN=NsqTyped Test CA"));
    private static readonly Lazy<X509Certificate2> s_server = new(() => CreateIssued("CN=localhost", s_authority.Value, server: true));
    private static readonly Lazy<X509Certificate2> s_client = new(() => CreateIssued("CN=nsqtyped-test-client", s_authority.Value, server: false));

    /// <summary>A certificate authority that issued <see cref="Server"/> and <see cref="Client"/>.</summary>
    public static X509Certificate2 Authority => s_authority.Value;

    /// <summary>A server certificate for <c>localhost</c> and <c>127.0.0.1</c>, with its private key.</summary>
    public static X509Certificate2 Server => s_server.Value;

    /// <summary>A client certificate (client authentication usage), with its private key.</summary>
    public static X509Certificate2 Client => s_client.Value;

    /// <summary>TLS options that trust <see cref="Authority"/> and expect nsqd's certificate for <c>localhost</c>.</summary>
    public static NsqTlsOptions TrustAuthority => new()
    {
        TargetHost = "localhost",
        TrustedCertificateAuthorities = [Authority],
    };

    /// <summary>A self-signed certificate for <c>localhost</c> that nobody trusts.</summary>
    public static X509Certificate2 CreateUntrustedServer() => CreateAuthority("CN=localhost");

    /// <summary>nsqd's <c>--tls-cert</c> and <c>--tls-key</c> flags for <paramref name="certificate"/> (PEM files).</summary>
    public static string[] NsqdFlags(X509Certificate2 certificate) =>
        ["--tls-cert=" + PemFile(certificate), "--tls-key=" + KeyPemFile(certificate)];

    /// <summary>A PEM file holding <paramref name="certificate"/> (without its key), e.g. for <c>--tls-root-ca-file</c>.</summary>
    public static string PemFile(X509Certificate2 certificate) =>
        Write($"{certificate.Thumbprint}.crt", certificate.ExportCertificatePem);

    /// <summary>A PEM file holding the private key of <paramref name="certificate"/> (PKCS#8).</summary>
    public static string KeyPemFile(X509Certificate2 certificate) =>
        Write($"{certificate.Thumbprint}.key", () => certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

    private static string Write(string name, Func<string> pem)
    {
        var path = Path.Combine(s_files.Value.FullName, name);
        lock (s_files)
        {
            if (!File.Exists(path))
            {
                File.WriteAllText(path, pem());
            }
        }

        return path;
    }

    private static X509Certificate2 CreateAuthority(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.DigitalSignature, true));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }

    private static X509Certificate2 CreateIssued(string subject, X509Certificate2 issuer, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        using var issued = request.Create(issuer, issuer.NotBefore, issuer.NotAfter.AddMinutes(-1), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null);
    }
}
