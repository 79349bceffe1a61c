using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace NsqTyped.Testing;

/// <summary>When nsqd insists on TLS (nsqd flag <c>--tls-required</c>).</summary>
public enum NsqdTlsRequirement
{
    /// <summary><c>--tls-required=false</c>: TLS is offered but optional.</summary>
    NotRequired = 0,

    /// <summary><c>--tls-required=true</c>: TCP clients must upgrade to TLS, and HTTP is refused in favour of HTTPS.</summary>
    Required,

    /// <summary><c>--tls-required=tcp-https</c>: TCP clients must upgrade to TLS; plain HTTP stays available.</summary>
    RequiredExceptHttp,
}

/// <summary>What nsqd asks of a TLS client's certificate (nsqd flag <c>--tls-client-auth-policy</c>).</summary>
public enum NsqdTlsClientAuthPolicy
{
    /// <summary>No client certificate is requested (the flag's default, empty).</summary>
    None = 0,

    /// <summary><c>require</c>: a client certificate must be presented; it is not verified.</summary>
    Require,

    /// <summary><c>require-verify</c>: a client certificate must be presented and chain to <see cref="EmbeddedNsqdOptions.TlsRootCertificates"/>.</summary>
    RequireVerify,
}

/// <summary>
/// Settings of an <see cref="EmbeddedNsqd"/>. Every property mirrors the nsqd v1.3.0 command-line flag
/// named in its documentation and has that flag's default, except the listen addresses, which default
/// to a free port on 127.0.0.1. <see cref="EmbeddedNsqdFlags.Parse(IEnumerable{string}, EmbeddedNsqdOptions?)"/>
/// builds options from an nsqd command line.
/// </summary>
/// <example>
/// <code>
/// await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { MaxRdyCount = 10 });
/// Console.WriteLine(nsqd.TcpAddress); // 127.0.0.1:41234
/// </code>
/// </example>
public sealed record EmbeddedNsqdOptions
{
    /// <summary>The defaults (free ports on 127.0.0.1, nsqd's default limits).</summary>
    public static EmbeddedNsqdOptions Default { get; } = new();

    /// <summary><c>--tcp-address</c>: where the TCP protocol listens; port 0 picks a free port.</summary>
    public string TcpAddress { get; init; } = "127.0.0.1:0";

    /// <summary><c>--http-address</c>: where the HTTP API listens; port 0 picks a free port.</summary>
    public string HttpAddress { get; init; } = "127.0.0.1:0";

    /// <summary><c>--https-address</c>: where the HTTPS API listens (needs a TLS certificate); <see langword="null"/> disables it.</summary>
    public string? HttpsAddress { get; init; }

    /// <summary><c>--broadcast-address</c>: the address registered with nsqlookupd.</summary>
    public string BroadcastAddress { get; init; } = "127.0.0.1";

    /// <summary><c>--msg-timeout</c>: default time a delivered message may stay in flight before it is redelivered.</summary>
    public TimeSpan MsgTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary><c>--max-msg-timeout</c>: longest message timeout a client may ask for in IDENTIFY or reach with TOUCH.</summary>
    public TimeSpan MaxMsgTimeout { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary><c>--max-req-timeout</c>: longest REQ delay (longer ones are clamped) and DPUB deferral (longer ones are refused).</summary>
    public TimeSpan MaxReqTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary><c>--max-msg-size</c>: largest message body in bytes.</summary>
    public long MaxMsgSize { get; init; } = 1024 * 1024;

    /// <summary><c>--max-body-size</c>: largest MPUB/IDENTIFY/AUTH body in bytes.</summary>
    public long MaxBodySize { get; init; } = 5 * 1024 * 1024;

    /// <summary><c>--max-rdy-count</c>: largest RDY a client may send.</summary>
    public long MaxRdyCount { get; init; } = 2500;

    /// <summary><c>--max-channel-consumers</c>: most clients per channel; 0 means unlimited.</summary>
    public int MaxChannelConsumers { get; init; }

    /// <summary>nsqd's client timeout (not a flag in v1.3.0, 60 s): the default heartbeat interval is half of it.</summary>
    public TimeSpan ClientTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary><c>--max-heartbeat-interval</c>: longest heartbeat interval a client may ask for.</summary>
    public TimeSpan MaxHeartbeatInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary><c>--max-output-buffer-size</c>: largest output buffer a client may ask for, in bytes.</summary>
    public int MaxOutputBufferSize { get; init; } = 64 * 1024;

    /// <summary><c>--max-output-buffer-timeout</c>: longest output buffer timeout a client may ask for.</summary>
    public TimeSpan MaxOutputBufferTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>--min-output-buffer-timeout</c>: shortest output buffer timeout a client may ask for.</summary>
    public TimeSpan MinOutputBufferTimeout { get; init; } = TimeSpan.FromMilliseconds(25);

    /// <summary>nsqd's default output buffer size for a client that does not ask (16 KiB, not a flag).</summary>
    public int OutputBufferSize { get; init; } = 16 * 1024;

    /// <summary>nsqd's default output buffer timeout for a client that does not ask (250 ms, not a flag).</summary>
    public TimeSpan OutputBufferTimeout { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary><c>--snappy</c>: whether clients may negotiate Snappy compression.</summary>
    public bool Snappy { get; init; } = true;

    /// <summary><c>--deflate</c>: whether clients may negotiate Deflate compression.</summary>
    public bool Deflate { get; init; } = true;

    /// <summary><c>--max-deflate-level</c>: highest Deflate level (1..9) a client may ask for.</summary>
    public int MaxDeflateLevel { get; init; } = 6;

    /// <summary><c>--tls-cert</c> and <c>--tls-key</c>: the server certificate (with private key); enables TLS upgrades and HTTPS.</summary>
    public X509Certificate2? TlsCertificate { get; init; }

    /// <summary><c>--tls-required</c>: whether clients must upgrade to TLS.</summary>
    public NsqdTlsRequirement TlsRequired { get; init; }

    /// <summary><c>--tls-client-auth-policy</c>: whether a client certificate is required (and verified).</summary>
    public NsqdTlsClientAuthPolicy TlsClientAuthPolicy { get; init; }

    /// <summary><c>--tls-root-ca-file</c>: certificate authorities that client certificates must chain to under <see cref="NsqdTlsClientAuthPolicy.RequireVerify"/>.</summary>
    public X509Certificate2Collection? TlsRootCertificates { get; init; }

    /// <summary><c>--auth-http-address</c>: auth servers (host:port, or a full URL) queried on AUTH; any entry enables authorization.</summary>
    public IReadOnlyList<string> AuthHttpAddresses { get; init; } = [];

    /// <summary><c>--auth-http-request-method</c>: <c>get</c> (default) or <c>post</c>.</summary>
    public string AuthHttpRequestMethod { get; init; } = "get";

    /// <summary>
    /// An in-process authorizer used instead of (or before) <see cref="AuthHttpAddresses"/>; setting it
    /// enables authorization. No nsqd flag: the embedded server's way to avoid running an auth service.
    /// </summary>
    public INsqdAuthorizer? Authorizer { get; init; }

    /// <summary><c>--http-client-request-timeout</c>: timeout of requests to auth servers.</summary>
    public TimeSpan HttpClientRequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>--lookupd-tcp-address</c>: nsqlookupd instances to register topics and channels with.</summary>
    public IReadOnlyList<string> LookupdTcpAddresses { get; init; } = [];

    /// <summary>The version reported by IDENTIFY, <c>/info</c> and <c>/stats</c>.</summary>
    public string Version { get; init; } = "1.3.0";

    /// <summary>Host name reported to nsqlookupd and in <c>/info</c>; <see langword="null"/> uses the machine name.</summary>
    public string? Hostname { get; init; }

    /// <summary>Logger factory for server diagnostics; <see langword="null"/> logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Clock for message timeouts, deferrals and timestamps (tests may supply a fake one).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
