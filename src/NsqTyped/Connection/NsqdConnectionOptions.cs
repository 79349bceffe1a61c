using System.Net;
using System.Reflection;
using Microsoft.Extensions.Logging;
using NsqTyped.Protocol;

namespace NsqTyped;

/// <summary>
/// Settings of one TCP connection to nsqd: what is negotiated in IDENTIFY (gnsq's <c>Nsqd</c>
/// keyword arguments, same meaning) and the client-side timeouts and limits.
/// </summary>
/// <remarks>
/// Properties left <see langword="null"/> are not sent, so nsqd applies its own default. Ranges are
/// checked by <see cref="Validate"/> (called before any I/O) and an invalid value is an
/// <see cref="ArgumentException"/>.
/// </remarks>
/// <example>
/// <code>
/// var options = NsqdConnectionOptions.Default with { HeartbeatInterval = TimeSpan.FromSeconds(5), Snappy = true };
/// await using var connection = await NsqdConnection.ConnectAsync("127.0.0.1:4150", options);
/// </code>
/// </example>
public sealed record NsqdConnectionOptions
{
    /// <summary>The defaults described on each property.</summary>
    public static NsqdConnectionOptions Default { get; } = new();

    /// <summary>Default nsqd TCP port, used when an address has no port.</summary>
    public const int DefaultTcpPort = 4150;

    /// <summary>The smallest output buffer timeout a default nsqd accepts (its <c>--min-output-buffer-timeout</c>, 25 ms).</summary>
    public static readonly TimeSpan MinOutputBufferTimeout = TimeSpan.FromMilliseconds(25);

    /// <summary>
    /// gnsq <c>client_id</c>: identifier shown in nsqd's stats. Default <see langword="null"/>: the short
    /// host name (the machine name up to the first dot).
    /// </summary>
    public string? ClientId { get; init; }

    /// <summary>gnsq <c>hostname</c>: host name shown in nsqd's stats. Default <see langword="null"/>: the machine's host name.</summary>
    public string? Hostname { get; init; }

    /// <summary>gnsq <c>user_agent</c>. Default <see langword="null"/>: <c>nsqtyped/&lt;version&gt;</c>.</summary>
    public string? UserAgent { get; init; }

    /// <summary>
    /// gnsq <c>heartbeat_interval</c>: how often nsqd sends <c>_heartbeat_</c> on an idle connection. Default
    /// 30 s. Between 1 s and the server's max-heartbeat-interval (60 s by default), or
    /// <see cref="Timeout.InfiniteTimeSpan"/> to disable heartbeats (nsqd then refuses SUB). Heartbeats are
    /// answered with NOP by the connection's read loop; when nothing at all arrives for two intervals the
    /// client-side watchdog closes the connection with an <see cref="NsqConnectionException"/>.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// gnsq <c>output_buffer_size</c>: bytes nsqd buffers before writing to this client. Default
    /// <see langword="null"/> (server default, 16 KiB). 64 to the server's max-output-buffer-size (64 KiB),
    /// or -1 to disable buffering.
    /// </summary>
    public int? OutputBufferSize { get; init; }

    /// <summary>
    /// gnsq <c>output_buffer_timeout</c>: how long nsqd may hold buffered data. Default <see langword="null"/>
    /// (server default, 250 ms). At least 1 ms (nsqd's minimum is 25 ms by default) up to the server's max
    /// (30 s), or <see cref="Timeout.InfiniteTimeSpan"/> to disable the timeout.
    /// </summary>
    public TimeSpan? OutputBufferTimeout { get; init; }

    /// <summary>gnsq <c>tls_v1</c> + <c>tls_options</c>. Default <see langword="null"/>: no TLS.</summary>
    public NsqTlsOptions? Tls { get; init; }

    /// <summary>gnsq <c>snappy</c>: Snappy framing-format compression after IDENTIFY. Default <see langword="false"/>. Not together with <see cref="Deflate"/>.</summary>
    public bool Snappy { get; init; }

    /// <summary>gnsq <c>deflate</c>: raw deflate compression after IDENTIFY. Default <see langword="false"/>. Not together with <see cref="Snappy"/>.</summary>
    public bool Deflate { get; init; }

    /// <summary>gnsq <c>deflate_level</c>: 1 (fastest) to 9 (smallest), clamped by nsqd to its max-deflate-level (6). Default 6.</summary>
    public int DeflateLevel { get; init; } = 6;

    /// <summary>gnsq <c>sample_rate</c>: percentage of messages nsqd delivers to this connection, 0 (all) to 99. Default 0.</summary>
    public int SampleRate { get; init; }

    /// <summary>
    /// gnsq <c>msg_timeout</c>: how long nsqd waits for FIN/REQ/TOUCH before redelivering a message sent on
    /// this connection. Default <see langword="null"/> (server default, 60 s). At least 1 s, at most the
    /// server's max-msg-timeout (15 min).
    /// </summary>
    public TimeSpan? MsgTimeout { get; init; }

    /// <summary>
    /// gnsq <c>auth_secret</c>: sent with AUTH when the server says <c>auth_required</c>. Default
    /// <see langword="null"/>; connecting to a server that requires AUTH without a secret fails with an
    /// <see cref="NsqConnectionException"/>.
    /// </summary>
    public string? AuthSecret { get; init; }

    /// <summary>Time allowed for the TCP connect and the whole handshake (magic, IDENTIFY, upgrades, AUTH). Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Time allowed for a command's response (a publish's OK, SUB's OK, CLS's CLOSE_WAIT) after it was
    /// queued; past it the call throws an <see cref="NsqTimeoutException"/>. Default 60 s (gnsq's <c>timeout</c>).
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits forever (a dead connection still fails every call).
    /// </summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Time allowed for writing one batch of commands to the socket; past it the connection is closed. Default 10 s.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Largest message body accepted for PUB/DPUB and for each MPUB message. Default 1 MiB (nsqd's default
    /// <c>--max-msg-size</c>); set it to your server's value. What this client accepts from the server is
    /// <see cref="MaxReadMessageSize"/>.
    /// </summary>
    public int MaxMessageSize { get; init; } = 1024 * 1024;

    /// <summary>
    /// Largest message body this client reads from nsqd, and the basis of the largest frame it accepts. Default
    /// 1 MiB. nsqd does not report its <c>--max-msg-size</c>, and another producer may publish larger bodies than
    /// this client's <see cref="MaxMessageSize"/>: a delivered message above this limit is read past without
    /// being buffered and never reaches a handler. A Reader gives it up (a poison message, finished without
    /// dead-lettering); a bare connection finishes it and logs a warning. Raise it to the server's
    /// <c>--max-msg-size</c> to receive every message nsqd accepts. Any other frame above the limit is a
    /// protocol error that closes the connection.
    /// </summary>
    public int MaxReadMessageSize { get; init; } = 1024 * 1024;

    /// <summary>Largest MPUB body (all messages with their size fields). Default 5 MiB (nsqd's default <c>--max-body-size</c>).</summary>
    public int MaxBodySize { get; init; } = 5 * 1024 * 1024;

    /// <summary>
    /// The server's <c>--max-req-timeout</c>: the longest DPUB or REQ delay it accepts. Default 1 h, nsqd's default;
    /// set it to your server's value (IDENTIFY does not report it; nsqd's <c>/config/max_req_timeout</c> does).
    /// A DPUB or REQ delay above it is refused before any I/O with an <see cref="ArgumentOutOfRangeException"/>:
    /// nsqd would close the connection on such a DPUB (<c>E_INVALID</c>) and silently shorten such a REQ.
    /// </summary>
    public TimeSpan MaxReqTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Where the connection logs. Default <see langword="null"/>: no logging.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> for a value outside its documented range, reporting every problem at once
    /// (one problem keeps its own exception type; several are listed one per line in one <see cref="ArgumentException"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A value is out of range or two options conflict.</exception>
    public void Validate()
    {
        var problems = new Internal.OptionsProblems(nameof(NsqdConnectionOptions));
        problems.Check(() =>
        {
            if (HeartbeatInterval != Timeout.InfiniteTimeSpan && HeartbeatInterval < TimeSpan.FromSeconds(1))
            {
                throw new ArgumentOutOfRangeException(nameof(HeartbeatInterval), HeartbeatInterval, "The heartbeat interval must be at least 1 s, or Timeout.InfiniteTimeSpan to disable heartbeats.");
            }
        });
        problems.Check(() =>
        {
            if (HeartbeatInterval != Timeout.InfiniteTimeSpan && HeartbeatInterval.TotalMilliseconds > int.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(HeartbeatInterval), HeartbeatInterval, "The heartbeat interval is too large.");
            }
        });
        problems.Check(() =>
        {
            if (OutputBufferSize is { } size && size != -1 && size < 64)
            {
                throw new ArgumentOutOfRangeException(nameof(OutputBufferSize), size, "The output buffer size must be at least 64 bytes, or -1 to disable buffering.");
            }
        });
        problems.Check(() =>
        {
            if (OutputBufferTimeout is { } obt && obt != Timeout.InfiniteTimeSpan && (obt < TimeSpan.FromMilliseconds(1) || obt.TotalMilliseconds > int.MaxValue))
            {
                throw new ArgumentOutOfRangeException(nameof(OutputBufferTimeout), obt, "The output buffer timeout must be at least 1 ms, or Timeout.InfiniteTimeSpan to disable it.");
            }
        });
        problems.Check(() =>
        {
            // nsqd's --min-output-buffer-timeout (25 ms by default) makes IDENTIFY fail fatally below it.
            if (OutputBufferTimeout is { } shortTimeout && shortTimeout >= TimeSpan.FromMilliseconds(1) && shortTimeout < MinOutputBufferTimeout)
            {
                throw new ArgumentOutOfRangeException(nameof(OutputBufferTimeout), shortTimeout, $"nsqd refuses an output buffer timeout below {MinOutputBufferTimeout.TotalMilliseconds:0} ms (its --min-output-buffer-timeout): use at least that, or null for the server's default.");
            }
        });
        problems.Check(() =>
        {
            if (Snappy && Deflate)
            {
                throw new ArgumentException("Snappy and Deflate cannot both be enabled: nsqd refuses the combination.", nameof(Deflate));
            }
        });
        problems.Check(() =>
        {
            if (DeflateLevel is < 1 or > 9)
            {
                throw new ArgumentOutOfRangeException(nameof(DeflateLevel), DeflateLevel, "The deflate level must be between 1 and 9.");
            }
        });
        problems.Check(() =>
        {
            if (SampleRate is < 0 or > 99)
            {
                throw new ArgumentOutOfRangeException(nameof(SampleRate), SampleRate, "The sample rate must be between 0 and 99.");
            }
        });
        problems.Check(() =>
        {
            if (MsgTimeout is { } mt && (mt < TimeSpan.FromSeconds(1) || mt.TotalMilliseconds > int.MaxValue))
            {
                throw new ArgumentOutOfRangeException(nameof(MsgTimeout), mt, "The message timeout must be at least 1 s.");
            }
        });
        problems.Check(() =>
        {
            if (AuthSecret is { Length: 0 })
            {
                throw new ArgumentException("The auth secret must not be empty; leave it null when the server needs none.", nameof(AuthSecret));
            }
        });
        problems.Check(() => ThrowIfNotPositive(ConnectTimeout, nameof(ConnectTimeout), allowInfinite: false));
        problems.Check(() => ThrowIfNotPositive(ReadTimeout, nameof(ReadTimeout), allowInfinite: true));
        problems.Check(() => ThrowIfNotPositive(WriteTimeout, nameof(WriteTimeout), allowInfinite: true));
        problems.Check(() =>
        {
            if (MaxMessageSize < 1 || MaxMessageSize > int.MaxValue - NsqMessageFrame.HeaderLength - 8)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxMessageSize), MaxMessageSize, "The max message size must be positive.");
            }
        });
        problems.Check(() =>
        {
            if (MaxReadMessageSize < 1 || MaxReadMessageSize > int.MaxValue - NsqMessageFrame.HeaderLength - 8)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxReadMessageSize), MaxReadMessageSize, "The max read message size must be positive.");
            }
        });
        problems.Check(() =>
        {
            if (MaxBodySize < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxBodySize), MaxBodySize, "The max body size must be positive.");
            }
        });
        problems.Check(() =>
        {
            if (MaxReqTimeout <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxReqTimeout), MaxReqTimeout, "MaxReqTimeout (the server's --max-req-timeout) must be positive.");
            }
        });
        problems.Check(() =>
        {
            if (Tls is { Enabled: true, TargetHost: { Length: 0 } })
            {
                throw new ArgumentException("The TLS target host must not be empty; leave it null to use the address's host.", nameof(Tls));
            }
        });
        problems.ThrowIfAny();
    }

    /// <summary>The IDENTIFY body these options produce (feature negotiation always on).</summary>
    public NsqIdentifyRequest ToIdentifyRequest()
    {
        var host = Dns.GetHostName();
        var dot = host.IndexOf('.', StringComparison.Ordinal);
        return new NsqIdentifyRequest
        {
            ClientId = ClientId ?? (dot > 0 ? host[..dot] : host),
            Hostname = Hostname ?? host,
            UserAgent = UserAgent ?? DefaultUserAgent,
            FeatureNegotiation = true,
            HeartbeatInterval = HeartbeatInterval == Timeout.InfiniteTimeSpan ? -1 : (int)HeartbeatInterval.TotalMilliseconds,
            OutputBufferSize = OutputBufferSize,
            OutputBufferTimeout = OutputBufferTimeout is { } t ? (t == Timeout.InfiniteTimeSpan ? -1 : (int)t.TotalMilliseconds) : null,
            TlsV1 = Tls is { Enabled: true } ? true : null,
            Snappy = Snappy ? true : null,
            Deflate = Deflate ? true : null,
            DeflateLevel = Deflate ? DeflateLevel : null,
            SampleRate = SampleRate != 0 ? SampleRate : null,
            MsgTimeout = MsgTimeout is { } m ? (int)m.TotalMilliseconds : null,
        };
    }

    /// <summary>The default user agent, <c>nsqtyped/&lt;version&gt;</c>.</summary>
    public static string DefaultUserAgent { get; } = "nsqtyped/" + LibraryVersion();

    private static string LibraryVersion()
    {
        var informational = typeof(NsqdConnectionOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(informational))
        {
            return typeof(NsqdConnectionOptions).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        }

        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? informational : informational[..plus];
    }

    private static void ThrowIfNotPositive(TimeSpan value, string name, bool allowInfinite)
    {
        if (allowInfinite && value == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive{(allowInfinite ? " or Timeout.InfiniteTimeSpan" : "")}.");
        }
    }
}
