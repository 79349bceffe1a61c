namespace NsqTyped;

/// <summary>What a publish does while the producer has no open connection.</summary>
public enum NsqDisconnectedPolicy
{
    /// <summary>Wait up to <see cref="NsqProducerOptions.DisconnectedWaitTimeout"/> for a connection, then throw an <see cref="NsqConnectionException"/>.</summary>
    WaitForConnection = 0,

    /// <summary>Throw an <see cref="NsqConnectionException"/> at once.</summary>
    FailFast,
}

/// <summary>Settings of an <see cref="NsqProducer"/>.</summary>
/// <example>
/// <code>
/// var options = NsqProducerOptions.Default with
/// {
///     PublishTimeout = TimeSpan.FromSeconds(2),
///     DisconnectedPolicy = NsqDisconnectedPolicy.FailFast,
/// };
/// await using var producer = new NsqProducer(["nsqd-1:4150", "nsqd-2:4150"], options);
/// </code>
/// </example>
public sealed record NsqProducerOptions
{
    /// <summary>The defaults described on each property.</summary>
    public static NsqProducerOptions Default { get; } = new();

    /// <summary>Options of every connection the producer opens. Default <see cref="NsqdConnectionOptions.Default"/>.</summary>
    public NsqdConnectionOptions Connection { get; init; } = NsqdConnectionOptions.Default;

    /// <summary>Connections kept open to each nsqd. Default 1 (one connection already pipelines many publishes).</summary>
    public int ConnectionsPerNode { get; init; } = 1;

    /// <summary>
    /// Longest time a publish may take from the call to nsqd's acknowledgement, including any wait for a
    /// connection; past it the call throws an <see cref="NsqTimeoutException"/>. Default 10 s.
    /// </summary>
    public TimeSpan PublishTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>What a publish does while no connection is open. Default <see cref="NsqDisconnectedPolicy.WaitForConnection"/>.</summary>
    public NsqDisconnectedPolicy DisconnectedPolicy { get; init; } = NsqDisconnectedPolicy.WaitForConnection;

    /// <summary>How long <see cref="NsqDisconnectedPolicy.WaitForConnection"/> waits for a connection (bounded by <see cref="PublishTimeout"/>). Default 5 s.</summary>
    public TimeSpan DisconnectedWaitTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Unit of the reconnect backoff: after n failed attempts the next waits a random time up to (2^n − 1) × this. Default 200 ms.</summary>
    public TimeSpan ReconnectBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Cap of the reconnect backoff. Default 30 s.</summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether single publishes to the same topic coalesce: while a command for a topic awaits nsqd's answer
    /// on a connection, further <c>PublishAsync</c> calls for that topic wait and go out together as one MPUB
    /// when the answer arrives (a lone publish goes out at once as PUB). Default <see langword="true"/>.
    /// DPUB and explicit MPUB are never coalesced.
    /// </summary>
    public bool CoalescePublishes { get; init; } = true;

    /// <summary>
    /// With <see cref="CoalescePublishes"/>: how long a publish that has nothing to ride on (no unanswered
    /// command of its topic) waits for others before it goes out. Zero (the default) sends it at once, so a
    /// lone caller pays no added latency; a few milliseconds trade that latency for larger batches when
    /// publishes trickle in. 0 to 10 s.
    /// </summary>
    public TimeSpan PublishLinger { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// Most publishes outstanding at once (called and not yet answered by nsqd), each MPUB counting its
    /// messages; past it <c>PublishAsync</c> waits for room, within <see cref="PublishTimeout"/> and its token.
    /// Default 16,384.
    /// </summary>
    public int MaxOutstandingPublishes { get; init; } = 16_384;

    /// <summary>
    /// Most message bytes outstanding at once; past it <c>PublishAsync</c> waits for room, like
    /// <see cref="MaxOutstandingPublishes"/>. A single publish larger than this goes when nothing else is outstanding.
    /// Default 64 MiB.
    /// </summary>
    public long MaxOutstandingBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> for a value outside its documented range, reporting every problem at once
    /// (one problem keeps its own exception type; several are listed one per line in one <see cref="ArgumentException"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        var problems = new Internal.OptionsProblems(nameof(NsqProducerOptions));
        problems.Check(() =>
        {
            ArgumentNullException.ThrowIfNull(Connection, nameof(Connection));
            Connection.Validate();
        });
        problems.Check(() =>
        {
            if (ConnectionsPerNode is < 1 or > 64)
            {
                throw new ArgumentOutOfRangeException(nameof(ConnectionsPerNode), ConnectionsPerNode, "Between 1 and 64 connections per nsqd.");
            }
        });
        problems.Check(() =>
        {
            if ((PublishTimeout <= TimeSpan.Zero && PublishTimeout != Timeout.InfiniteTimeSpan) || PublishTimeout.TotalMilliseconds > int.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(PublishTimeout), PublishTimeout, "The publish timeout must be positive or Timeout.InfiniteTimeSpan.");
            }
        });
        problems.Check(() =>
        {
            if (DisconnectedWaitTimeout < TimeSpan.Zero || DisconnectedWaitTimeout.TotalMilliseconds > int.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(DisconnectedWaitTimeout), DisconnectedWaitTimeout, "The disconnected wait timeout must not be negative.");
            }
        });
        problems.Check(() =>
        {
            if (!Enum.IsDefined(DisconnectedPolicy))
            {
                throw new ArgumentOutOfRangeException(nameof(DisconnectedPolicy), DisconnectedPolicy, "Unknown policy.");
            }
        });
        problems.Check(() =>
        {
            if (PublishLinger < TimeSpan.Zero || PublishLinger > TimeSpan.FromSeconds(10))
            {
                throw new ArgumentOutOfRangeException(nameof(PublishLinger), PublishLinger, "The publish linger must be between zero and 10 s.");
            }
        });
        problems.Check(() =>
        {
            if (MaxOutstandingPublishes < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxOutstandingPublishes), MaxOutstandingPublishes, "At least one outstanding publish.");
            }
        });
        problems.Check(() =>
        {
            if (MaxOutstandingBytes < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxOutstandingBytes), MaxOutstandingBytes, "At least one outstanding byte.");
            }
        });
        problems.Check(() =>
        {
            if (ReconnectBaseDelay <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(ReconnectBaseDelay), ReconnectBaseDelay, "The reconnect base delay must be positive.");
            }
        });
        problems.Check(() =>
        {
            if (ReconnectMaxDelay < ReconnectBaseDelay)
            {
                throw new ArgumentOutOfRangeException(nameof(ReconnectMaxDelay), ReconnectMaxDelay, "The reconnect max delay must be at least the base delay.");
            }
        });
        problems.ThrowIfAny();
    }
}
