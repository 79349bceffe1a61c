using Microsoft.Extensions.Logging;
using NsqTyped.Internal;
using NsqTyped.Protocol;

namespace NsqTyped;

/// <summary>
/// Settings of an <see cref="NsqReader"/>: gnsq's <c>Consumer</c> parameters with the same meaning and
/// the same defaults (see <c>docs/reader.md</c>), plus the connection settings.
/// </summary>
/// <remarks>Checked by <see cref="Validate"/> when the Reader is created, before any I/O; an invalid value is an <see cref="ArgumentException"/>.</remarks>
/// <example>
/// <code>
/// var options = new NsqReaderOptions
/// {
///     Topic = "orders",
///     Channel = "billing",
///     LookupdHttpAddresses = ["http://127.0.0.1:4161"],
///     MaxInFlight = 100,
/// };
/// await using var reader = new NsqReader(options, async (message, ct) => await ProcessAsync(message.Body, ct));
/// await reader.StartAsync();
/// </code>
/// </example>
public sealed record NsqReaderOptions
{
    /// <summary>The defaults (gnsq's); set <see cref="Topic"/>, <see cref="Channel"/> and an address with <c>with</c>.</summary>
    public static NsqReaderOptions Default { get; } = new();

    /// <summary>gnsq <c>topic</c>: the topic to consume (1 to 64 characters of <c>[.a-zA-Z0-9_-]</c>, optionally <c>#ephemeral</c>).</summary>
    public string Topic { get; init; } = "";

    /// <summary>gnsq <c>channel</c>: the channel to subscribe to (same rule as topics).</summary>
    public string Channel { get; init; } = "";

    /// <summary>gnsq <c>nsqd_tcp_addresses</c>: nsqd instances to connect to directly (<c>host:port</c>); they are reconnected with exponential backoff when they drop.</summary>
    public IReadOnlyList<string> NsqdTcpAddresses { get; init; } = [];

    /// <summary>gnsq <c>lookupd_http_addresses</c>: nsqlookupd instances (<c>http://host:4161</c> or <c>host:4161</c>) polled for the topic's producers.</summary>
    public IReadOnlyList<string> LookupdHttpAddresses { get; init; } = [];

    /// <summary>gnsq <c>name</c>: the logger category. Default <see langword="null"/>: <c>NsqTyped.Reader.{topic}.{channel}</c>.</summary>
    public string? Name { get; init; }

    /// <summary>gnsq <c>max_tries</c>: a message delivered more often than this is finished without calling the handler and raises <see cref="NsqReader.GivingUp"/>. Default 5; 0 means unlimited.</summary>
    public int MaxTries { get; init; } = 5;

    /// <summary>
    /// gnsq <c>max_in_flight</c>: messages in flight at once, spread over the connections (the sum of RDY counts
    /// never exceeds it). Default 1: one message per round trip, its handler run on the thread the delivering
    /// connection's read loop leaves once its next read is registered (no thread hop); raise it for throughput.
    /// </summary>
    public int MaxInFlight { get; init; } = 1;

    /// <summary>gnsq <c>max_concurrency</c>: handlers running at once. Default 0: one per connection (gnsq runs one handler per connection); -1: the number of CPUs.</summary>
    public int MaxConcurrency { get; init; }

    /// <summary>
    /// gnsq <c>requeue_delay</c>: delay of the REQ sent when a handler throws (or throws an
    /// <see cref="NsqRequeueException"/> without a delay of its own) on a message's first attempt; later
    /// attempts double it up to <see cref="MaxRequeueDelay"/>. Default 10 s (gnsq: 0): with the default
    /// <see cref="MaxTries"/> a message survives 150 s of failures (10 + 20 + 40 + 80 s between its five
    /// attempts) instead of being given up within seconds. <see cref="TimeSpan.Zero"/> redelivers at once.
    /// </summary>
    public TimeSpan RequeueDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The longest requeue delay of the growing retry schedule (go-nsq <c>max_requeue_delay</c>). Default
    /// 15 min. Set it equal to <see cref="RequeueDelay"/> for gnsq's fixed delay. nsqd clamps every REQ
    /// delay to its own <c>--max-req-timeout</c> (1 h by default).
    /// </summary>
    public TimeSpan MaxRequeueDelay { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>gnsq <c>lookupd_poll_interval</c>: time between lookupd polls. Default 60 s.</summary>
    public TimeSpan LookupdPollInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>gnsq <c>lookupd_poll_jitter</c>: the first periodic poll waits a random part of <c>jitter × interval</c>, later ones <c>interval × (1 ± jitter)</c>. Default 0.3; 0 to 1.</summary>
    public double LookupdPollJitter { get; init; } = 0.3;

    /// <summary>gnsq <c>low_ready_idle_timeout</c>: a connection without messages for this long gives up its RDY share (to RDY 1, or to 0 when max_in_flight is smaller than the number of connections). Default 10 s.</summary>
    public TimeSpan LowReadyIdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>gnsq <c>max_backoff_duration</c>: the longest backoff after handler failures. Default 128 s; <see cref="TimeSpan.Zero"/> disables backoff.</summary>
    public TimeSpan MaxBackoffDuration { get; init; } = TimeSpan.FromSeconds(128);

    /// <summary>gnsq <c>backoff_on_requeue</c>: whether an <see cref="NsqRequeueException"/> without its own backoff flag backs off. Default <see langword="true"/>. Other exceptions always back off.</summary>
    public bool BackoffOnRequeue { get; init; } = true;

    /// <summary>
    /// gnsq's asynchronous messages (<c>message.enable_async()</c>) for every message: the handler's
    /// return does not finish the message; the application calls <see cref="NsqMessage.FinishAsync"/>
    /// or <see cref="NsqMessage.RequeueAsync"/> itself. Default <see langword="false"/>. Exceptions still requeue.
    /// </summary>
    public bool ManualFinish { get; init; }

    /// <summary>gnsq's connection keyword arguments: IDENTIFY settings, TLS, compression, AUTH, timeouts.</summary>
    public NsqdConnectionOptions Connection { get; init; } = NsqdConnectionOptions.Default;

    /// <summary>
    /// Called (before the message is finished) for a message given up on after <see cref="MaxTries"/>,
    /// e.g. to republish it to a dead-letter topic with <see cref="NsqReader.PublishAsync"/>. An exception
    /// it throws is logged; the message is finished anyway.
    /// </summary>
    public Func<NsqMessage, CancellationToken, ValueTask>? GivingUpHook { get; init; }

    /// <summary>
    /// A topic given-up messages are published to (their original body) before they are finished: messages
    /// beyond <see cref="MaxTries"/> and poison messages. When that publish fails the message is requeued
    /// (after <see cref="RequeueDelay"/> grown for its attempts, at least 1 s) and never finished, so nothing
    /// is lost by giving up. Default <see langword="null"/>: given-up messages are finished without a copy.
    /// A typed handler's <see cref="NsqHandlerAttribute.DeadLetterTopic"/> applies when this is not set.
    /// </summary>
    public string? DeadLetterTopic { get; init; }

    /// <summary>Where dead-letter copies are published; <see langword="null"/> publishes over the Reader's own connections.</summary>
    public INsqPublisher? DeadLetterPublisher { get; init; }

    /// <summary>
    /// First delay before reconnecting a dropped direct nsqd address (or a producer lookupd lists that refuses
    /// connections); it doubles (with jitter) on each failure up to <see cref="MaxReconnectDelay"/>. Also the wait
    /// before the lookupd query that a dropped discovered connection triggers. Default 1 s.
    /// </summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest delay between reconnection attempts to a direct nsqd address. Default 60 s (go-nsq reconnects every lookupd_poll_interval, 60 s).</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The HTTP client lookupd polls use; <see langword="null"/> creates one owned by the Reader.</summary>
    public HttpClient? LookupdHttpClient { get; init; }

    /// <summary>Logging; <see langword="null"/> uses <see cref="NsqdConnectionOptions.LoggerFactory"/> of <see cref="Connection"/>, or no logging.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>The clock of every timer (backoff, RDY redistribution, lookupd polls). Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> for a value outside its documented range, reporting every problem at once
    /// (one problem keeps its own exception type; several are listed one per line in one <see cref="ArgumentException"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A value is out of range, the topic or channel is missing or invalid, no address is given,
    /// or heartbeats are disabled (nsqd refuses SUB without them).</exception>
    public void Validate()
    {
        var problems = new OptionsProblems(nameof(NsqReaderOptions));
        problems.Check(() => ThrowIfMissingOrInvalid(Topic, nameof(Topic), "topic", NsqNames.ThrowIfInvalidTopic));
        problems.Check(() => ThrowIfMissingOrInvalid(Channel, nameof(Channel), "channel", NsqNames.ThrowIfInvalidChannel));
        problems.Check(() =>
        {
            ArgumentNullException.ThrowIfNull(NsqdTcpAddresses, nameof(NsqdTcpAddresses));
            ArgumentNullException.ThrowIfNull(LookupdHttpAddresses, nameof(LookupdHttpAddresses));
            if (NsqdTcpAddresses.Count == 0 && LookupdHttpAddresses.Count == 0)
            {
                throw new ArgumentException("Give at least one nsqd TCP address or one lookupd HTTP address.", nameof(NsqdTcpAddresses));
            }
        });

        foreach (var address in NsqdTcpAddresses ?? [])
        {
            problems.Check(() => NsqEndpoint.Parse(address, NsqdConnectionOptions.DefaultTcpPort, nameof(NsqdTcpAddresses)));
        }

        foreach (var address in LookupdHttpAddresses ?? [])
        {
            problems.Check(() => _ = NsqTyped.Internal.Http.NsqHttpTransport.ParseAddress(address, nameof(LookupdHttpAddresses)));
        }

        problems.Check(() => ArgumentOutOfRangeException.ThrowIfNegative(MaxTries, nameof(MaxTries)));
        problems.Check(() => ArgumentOutOfRangeException.ThrowIfLessThan(MaxInFlight, 1, nameof(MaxInFlight)));
        problems.Check(() => ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrency, -1, nameof(MaxConcurrency)));
        problems.Check(() => ArgumentOutOfRangeException.ThrowIfLessThan(RequeueDelay, TimeSpan.Zero, nameof(RequeueDelay)));
        problems.Check(() => ArgumentOutOfRangeException.ThrowIfLessThan(MaxRequeueDelay, TimeSpan.Zero, nameof(MaxRequeueDelay)));
        if (DeadLetterTopic is not null)
        {
            problems.Check(() => NsqNames.ThrowIfInvalidTopic(DeadLetterTopic, nameof(DeadLetterTopic)));
        }

        problems.Check(() => ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(LookupdPollInterval, TimeSpan.Zero, nameof(LookupdPollInterval)));
        problems.Check(() =>
        {
            if (!(LookupdPollJitter >= 0 && LookupdPollJitter <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(LookupdPollJitter), LookupdPollJitter, "The lookupd poll jitter is a fraction between 0 and 1.");
            }
        });
        problems.Check(() => ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(LowReadyIdleTimeout, TimeSpan.Zero, nameof(LowReadyIdleTimeout)));
        problems.Check(() => ArgumentOutOfRangeException.ThrowIfLessThan(MaxBackoffDuration, TimeSpan.Zero, nameof(MaxBackoffDuration)));
        problems.Check(() => ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ReconnectDelay, TimeSpan.Zero, nameof(ReconnectDelay)));
        problems.Check(() => ArgumentOutOfRangeException.ThrowIfLessThan(MaxReconnectDelay, ReconnectDelay, nameof(MaxReconnectDelay)));
        problems.Check(() => ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider)));
        problems.Check(() =>
        {
            ArgumentNullException.ThrowIfNull(Connection, nameof(Connection));
            Connection.Validate();

            // nsqd answers SUB with E_INVALID when heartbeats are disabled, so the Reader would reconnect forever.
            if (Connection.HeartbeatInterval == Timeout.InfiniteTimeSpan)
            {
                throw new ArgumentException("A Reader needs heartbeats: nsqd refuses SUB on a connection with heartbeats disabled. Leave Connection.HeartbeatInterval at its default or set it to at least 1 s.", nameof(Connection));
            }
        });
        problems.ThrowIfAny();
    }

    private static void ThrowIfMissingOrInvalid(string? name, string parameter, string what, Action<string, string> validate)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new ArgumentException($"{parameter} is missing: name the NSQ {what} (1 to 64 characters of [.a-zA-Z0-9_-], optionally ending in '#ephemeral').", parameter);
        }

        validate(name, parameter);
    }

    /// <summary>
    /// The retry schedule: the REQ delay after a failed attempt number <paramref name="attempts"/> (1 on
    /// first delivery) is <see cref="RequeueDelay"/> × 2^(attempts − 1), at most
    /// <see cref="MaxRequeueDelay"/> (never below <see cref="RequeueDelay"/>).
    /// </summary>
    internal TimeSpan RequeueDelayFor(int attempts)
    {
        var cap = MaxRequeueDelay > RequeueDelay ? MaxRequeueDelay : RequeueDelay;
        var doublings = Math.Clamp(attempts - 1, 0, 40);
        var ticks = RequeueDelay.Ticks * Math.Pow(2, doublings);
        return ticks >= cap.Ticks ? cap : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>The handler concurrency for <paramref name="connections"/> open connections.</summary>
    internal int EffectiveConcurrency(int connections) => MaxConcurrency switch
    {
        -1 => Environment.ProcessorCount,
        0 => Math.Max(1, connections),
        var n => n,
    };
}
