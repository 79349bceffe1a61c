namespace NsqTyped;

/// <summary>Limits, timeout and TLS of an <see cref="NsqdHttpClient"/>.</summary>
/// <remarks>
/// The size limits mirror nsqd's defaults so that a body nsqd would refuse is refused before it is sent
/// (<see cref="ArgumentException"/>). Raise them when nsqd runs with larger <c>--max-msg-size</c> or
/// <c>--max-body-size</c>; lower limits on the server still answer 413 (<see cref="NsqHttpException"/>).
/// </remarks>
public sealed record NsqdHttpClientOptions
{
    /// <summary>The defaults: 1 MiB messages, 5 MiB bodies, 60 s per request.</summary>
    public static NsqdHttpClientOptions Default { get; } = new();

    /// <summary>Largest message body, as nsqd's <c>--max-msg-size</c> (default 1048576).</summary>
    public int MaxMessageSize { get; init; } = 1024 * 1024;

    /// <summary>Largest <c>/mpub</c> request body, as nsqd's <c>--max-body-size</c> (default 5242880).</summary>
    public int MaxBodySize { get; init; } = 5 * 1024 * 1024;

    /// <summary>
    /// Time allowed for one request, answer included (default 60 s, like gnsq); <see cref="Timeout.InfiniteTimeSpan"/>
    /// disables it. Expiry throws <see cref="NsqTimeoutException"/>.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The server's <c>--max-req-timeout</c> (default 1 h, nsqd's default): a <c>defer</c> above it, or a negative one,
    /// is an <see cref="ArgumentOutOfRangeException"/> before sending, as for <see cref="NsqdConnectionOptions.MaxReqTimeout"/>.
    /// </summary>
    public TimeSpan MaxReqTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// TLS for an https:// address (nsqd's <c>--https-address</c>), the same settings as a connection's
    /// <see cref="NsqdConnectionOptions.Tls"/>: trusted authorities, client certificate, target host, validation
    /// callback, protocols and revocation. Applied to the <see cref="HttpClient"/> the client creates; with an
    /// injected one, configure its handler instead (setting both is an <see cref="ArgumentException"/>).
    /// Default <see langword="null"/>: the system's trusted roots and standard validation, no client certificate.
    /// </summary>
    public NsqTlsOptions? Tls { get; init; }

    internal void Validate(string paramName)
    {
        if (MaxMessageSize <= 0)
        {
            throw new ArgumentOutOfRangeException(paramName, MaxMessageSize, "MaxMessageSize must be positive.");
        }

        if (MaxBodySize <= 0)
        {
            throw new ArgumentOutOfRangeException(paramName, MaxBodySize, "MaxBodySize must be positive.");
        }

        if (RequestTimeout != Timeout.InfiniteTimeSpan && RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(paramName, RequestTimeout, "RequestTimeout must be positive or Timeout.InfiniteTimeSpan.");
        }

        if (MaxReqTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(paramName, MaxReqTimeout, "MaxReqTimeout must be positive.");
        }

        if (Tls is { Enabled: true, TargetHost: { Length: 0 } })
        {
            throw new ArgumentException("The TLS target host must not be empty; leave it null to use the address's host.", paramName);
        }
    }
}
