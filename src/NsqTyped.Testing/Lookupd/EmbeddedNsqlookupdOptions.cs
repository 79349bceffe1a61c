using Microsoft.Extensions.Logging;

namespace NsqTyped.Testing;

/// <summary>
/// Settings of an <see cref="EmbeddedNsqlookupd"/>. The names mirror nsqlookupd's command-line flags
/// (<c>--tcp-address</c>, <c>--http-address</c>, <c>--broadcast-address</c>,
/// <c>--inactive-producer-timeout</c>, <c>--tombstone-lifetime</c>).
/// </summary>
/// <example>
/// <code>
/// await using var lookupd = await EmbeddedNsqlookupd.StartAsync(new EmbeddedNsqlookupdOptions
/// {
///     TombstoneLifetime = TimeSpan.FromSeconds(5),
/// });
/// Console.WriteLine(lookupd.HttpAddress); // e.g. 127.0.0.1:41237
/// </code>
/// </example>
public sealed record EmbeddedNsqlookupdOptions
{
    /// <summary>The defaults: loopback addresses on free ports and nsqlookupd's timeouts.</summary>
    public static EmbeddedNsqlookupdOptions Default { get; } = new();

    /// <summary>
    /// <c>host:port</c> the TCP (registration) listener binds to; port 0 picks a free port.
    /// Defaults to <c>127.0.0.1:0</c> (nsqlookupd itself defaults to <c>0.0.0.0:4160</c>).
    /// </summary>
    public string TcpAddress { get; init; } = "127.0.0.1:0";

    /// <summary>
    /// <c>host:port</c> the HTTP API binds to; port 0 picks a free port.
    /// Defaults to <c>127.0.0.1:0</c> (nsqlookupd itself defaults to <c>0.0.0.0:4161</c>).
    /// </summary>
    public string HttpAddress { get; init; } = "127.0.0.1:0";

    /// <summary>
    /// The address this lookupd reports to registering nsqd instances (IDENTIFY response);
    /// <see langword="null"/> means the machine's host name, as nsqlookupd does.
    /// </summary>
    public string? BroadcastAddress { get; init; }

    /// <summary>
    /// How long a producer stays in <c>/lookup</c> and <c>/nodes</c> after its last IDENTIFY or PING
    /// (nsqlookupd <c>--inactive-producer-timeout</c>, default 300 s).
    /// </summary>
    public TimeSpan InactiveProducerTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>
    /// How long a producer tombstoned with <c>POST /topic/tombstone</c> stays hidden from <c>/lookup</c>
    /// (nsqlookupd <c>--tombstone-lifetime</c>, default 45 s).
    /// </summary>
    public TimeSpan TombstoneLifetime { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>The version reported by <c>/info</c> and the IDENTIFY response (default <c>1.3.0</c>).</summary>
    public string Version { get; init; } = "1.3.0";

    /// <summary>Where the server logs; <see langword="null"/> logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// The clock used for producer activity and tombstones; tests can pass a controllable
    /// <see cref="System.TimeProvider"/> to expire producers without waiting.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
