namespace NsqTyped.Testing;

/// <summary>Settings of an <see cref="NsqTestHarness"/>; the defaults suit a unit test against the embedded nsqd.</summary>
public sealed record NsqTestHarnessOptions
{
    /// <summary>The defaults.</summary>
    public static NsqTestHarnessOptions Default { get; } = new();

    /// <summary>
    /// An nsqd to use instead of starting an embedded one (<c>host:port</c>), e.g. from <c>NSQD_TCP_ADDRESS</c>.
    /// <see langword="null"/> (default) starts an embedded nsqd on 127.0.0.1 with free ports.
    /// </summary>
    public string? NsqdTcpAddress { get; init; }

    /// <summary>Settings of the embedded nsqd; <see langword="null"/> for its defaults.</summary>
    public EmbeddedNsqdOptions? Server { get; init; }

    /// <summary>
    /// Settings of every Reader; the harness fills in the nsqd address, and each handler's topic and channel.
    /// The default retries quickly (requeue after 10 ms doubling up to 200 ms, backoff at most 200 ms, reconnect
    /// after 100 ms) so failure tests stay fast; production Readers keep <see cref="NsqReaderOptions"/>'s slower,
    /// loss-averse retry schedule.
    /// </summary>
    public NsqReaderOptions Reader { get; init; } = new()
    {
        MaxInFlight = 16,
        RequeueDelay = TimeSpan.FromMilliseconds(10),
        MaxRequeueDelay = TimeSpan.FromMilliseconds(200),
        MaxBackoffDuration = TimeSpan.FromMilliseconds(200),
        ReconnectDelay = TimeSpan.FromMilliseconds(100),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>Where instance handlers are resolved from (a scope per message when it can create scopes).</summary>
    public IServiceProvider? Services { get; init; }

    /// <summary>How long the waits wait when no timeout is passed. Default 10 s.</summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
