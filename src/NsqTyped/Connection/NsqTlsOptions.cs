using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace NsqTyped;

/// <summary>
/// TLS settings of an nsqd connection (gnsq: <c>tls_v1</c> and <c>tls_options</c>). When enabled the
/// client asks for <c>tls_v1</c> in IDENTIFY and upgrades the socket with <see cref="SslStream"/> right
/// after the IDENTIFY response. The server certificate is validated by default.
/// </summary>
/// <example>
/// <code>
/// var options = NsqdConnectionOptions.Default with
/// {
///     Tls = new NsqTlsOptions { TargetHost = "nsqd.internal", TrustedCertificateAuthorities = [caCertificate] },
/// };
/// </code>
/// </example>
public sealed record NsqTlsOptions
{
    /// <summary>Whether to ask for TLS (<c>tls_v1</c>). Default <see langword="true"/>: creating TLS options means wanting TLS.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>
    /// The host name the server certificate must match (SNI and name check). Default
    /// <see langword="null"/>: the host part of the address the connection was made to.
    /// </summary>
    public string? TargetHost { get; init; }

    /// <summary>
    /// Certificate authorities trusted instead of the system store (a private CA or a self-signed
    /// server certificate). Default <see langword="null"/>: the system's trusted roots.
    /// </summary>
    public X509Certificate2Collection? TrustedCertificateAuthorities { get; init; }

    /// <summary>
    /// Replaces the whole server certificate validation. Default <see langword="null"/>: standard
    /// validation (chain and host name). Return <see langword="true"/> only for certificates you trust.
    /// </summary>
    public RemoteCertificateValidationCallback? RemoteCertificateValidationCallback { get; init; }

    /// <summary>A client certificate (with its private key) for servers that require one. Default none.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>Allowed protocol versions. Default <see cref="SslProtocols.None"/>: the operating system's choice.</summary>
    public SslProtocols EnabledSslProtocols { get; init; } = SslProtocols.None;

    /// <summary>Whether to check the server certificate's revocation status. Default <see langword="false"/>.</summary>
    public bool CheckCertificateRevocation { get; init; }

    /// <summary>
    /// The SSL options shared by nsqd connections and the HTTP clients: protocols, revocation, the custom trust
    /// store and the client certificate. The caller sets the validation callback (wrapping
    /// <see cref="RemoteCertificateValidationCallback"/>) and, for sockets, the target host.
    /// </summary>
    internal SslClientAuthenticationOptions CreateSslClientOptions()
    {
        var options = new SslClientAuthenticationOptions
        {
            EnabledSslProtocols = EnabledSslProtocols,
            CertificateRevocationCheckMode = CheckCertificateRevocation ? X509RevocationMode.Online : X509RevocationMode.NoCheck,
        };

        if (TrustedCertificateAuthorities is { Count: > 0 } authorities)
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = options.CertificateRevocationCheckMode,
            };
            policy.CustomTrustStore.AddRange(authorities);
            options.CertificateChainPolicy = policy;
        }

        if (ClientCertificate is { } certificate)
        {
            options.ClientCertificates = [certificate];
            options.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        }

        return options;
    }
}
