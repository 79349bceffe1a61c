using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using NsqTyped.Protocol;

namespace NsqTyped.Diagnostics;

/// <summary>
/// The library's one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named <c>NsqTyped</c>,
/// with OpenTelemetry messaging semantic-convention names (see <c>docs/telemetry.md</c>).
/// </summary>
/// <remarks>
/// Every helper checks <see cref="ActivitySource.HasListeners"/> or <see cref="Instrument.Enabled"/>
/// first, so nothing (no tag list, no string, no boxing) is built while nobody listens.
/// NSQ messages carry no headers, so there is no trace context to propagate: a process span is a child of
/// whatever activity is current on the worker (normally none, so a new trace).
/// </remarks>
internal static class NsqTelemetry
{
    /// <summary>Name of the activity source and of the meter (public as <see cref="NsqTypedTelemetry"/>).</summary>
    public const string Name = NsqTypedTelemetry.ActivitySourceName;

    public const string SystemTag = "messaging.system";
    public const string SystemValue = "nsq";
    public const string DestinationTag = "messaging.destination.name";
    public const string ConsumerGroupTag = "messaging.consumer.group.name";
    public const string OperationNameTag = "messaging.operation.name";
    public const string OperationTypeTag = "messaging.operation.type";
    public const string MessageIdTag = "messaging.message.id";
    public const string BatchCountTag = "messaging.batch.message_count";
    public const string AttemptsTag = "messaging.nsq.message.attempts";
    public const string CommandTag = "messaging.nsq.command";
    public const string ErrorTypeTag = "error.type";

    public const string SentMessagesName = "messaging.client.sent.messages";
    public const string ConsumedMessagesName = "messaging.client.consumed.messages";
    public const string RequeuedMessagesName = "messaging.nsq.client.requeued.messages";
    public const string GivingUpMessagesName = "messaging.nsq.client.giving_up.messages";
    public const string DeadLetteredMessagesName = "messaging.nsq.client.dead_lettered.messages";
    public const string PoisonMessagesName = "messaging.nsq.client.poison.messages";
    public const string BackoffsName = "messaging.nsq.client.backoffs";
    public const string InFlightMessagesName = "messaging.nsq.client.in_flight.messages";
    public const string OperationDurationName = "messaging.client.operation.duration";
    public const string ProcessDurationName = "messaging.process.duration";

    /// <summary>The OpenTelemetry-recommended buckets for messaging durations, in seconds.</summary>
    private static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    /// <summary>The library version (informational version without the source revision).</summary>
    public static readonly string Version = LibraryVersion();

    /// <summary>Spans: <c>publish {topic}</c> (Producer kind) and <c>process {topic}</c> (Consumer kind).</summary>
    public static readonly ActivitySource ActivitySource = new(Name, Version);

    /// <summary>Every instrument below.</summary>
    public static readonly Meter Meter = new(NsqTypedTelemetry.MeterName, Version);

    /// <summary>Messages acknowledged by nsqd (PUB counts 1, MPUB its batch size, DPUB 1); failed publishes count with <c>error.type</c>.</summary>
    public static readonly Counter<long> SentMessages = Meter.CreateCounter<long>(
        SentMessagesName, "{message}", "Messages a producer published (acknowledged by nsqd, or failed with error.type).");

    /// <summary>Messages handed to the application (to a handler, or yielded in pull mode).</summary>
    public static readonly Counter<long> ConsumedMessages = Meter.CreateCounter<long>(
        ConsumedMessagesName, "{message}", "Messages a Reader delivered to the application.");

    /// <summary>Messages sent back to nsqd with REQ (handler failure, explicit requeue, or unstarted at close).</summary>
    public static readonly Counter<long> RequeuedMessages = Meter.CreateCounter<long>(
        RequeuedMessagesName, "{message}", "Messages a Reader requeued (REQ).");

    /// <summary>Messages finished without calling the handler because they exceeded max_tries.</summary>
    public static readonly Counter<long> GivingUpMessages = Meter.CreateCounter<long>(
        GivingUpMessagesName, "{message}", "Messages a Reader gave up on after max_tries attempts.");

    /// <summary>Given-up messages published to the dead-letter topic (failed publishes count with <c>error.type</c>).</summary>
    public static readonly Counter<long> DeadLetteredMessages = Meter.CreateCounter<long>(
        DeadLetteredMessagesName, "{message}", "Given-up messages a Reader published to its dead-letter topic.");

    /// <summary>Messages given up at once as permanent failures (undeserializable body, NsqPermanentFailureException).</summary>
    public static readonly Counter<long> PoisonMessages = Meter.CreateCounter<long>(
        PoisonMessagesName, "{message}", "Messages a Reader gave up at once as permanent failures.");

    /// <summary>Backoff waits a Reader started (a handler failure paused every connection).</summary>
    public static readonly Counter<long> Backoffs = Meter.CreateCounter<long>(
        BackoffsName, "{backoff}", "Times a Reader started backing off after a handler failure.");

    /// <summary>What the in-flight instrument reads: one entry per running Reader, keyed by a registration object.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<InFlightSource, byte> InFlightSources = new();

    /// <summary>
    /// Messages delivered to each running Reader and not yet answered or expired, read from its connections'
    /// in-flight ledgers when observed (nothing is counted per message for it).
    /// </summary>
    public static readonly ObservableUpDownCounter<long> InFlightMessages = Meter.CreateObservableUpDownCounter(
        InFlightMessagesName, ObserveInFlight, "{message}", "Messages delivered to a Reader and not yet finished, requeued or expired.");

    /// <summary>Duration of publish operations (from the call to nsqd's acknowledgement), in seconds.</summary>
    public static readonly Histogram<double> OperationDuration = Meter.CreateHistogram(
        OperationDurationName, "s", "Duration of messaging operations initiated by a producer (PUB, MPUB, DPUB).",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    /// <summary>Duration of handler invocations, in seconds.</summary>
    public static readonly Histogram<double> ProcessDuration = Meter.CreateHistogram(
        ProcessDurationName, "s", "Duration of processing one message (the handler), in seconds.",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    /// <summary>Whether anything observes publishes: timing them costs a timestamp per call only then.</summary>
    public static bool PublishObserved => ActivitySource.HasListeners() || SentMessages.Enabled || OperationDuration.Enabled;

    /// <summary>Whether anything observes processing.</summary>
    public static bool ProcessObserved => ActivitySource.HasListeners() || ConsumedMessages.Enabled || ProcessDuration.Enabled;

    /// <summary>Starts a <c>publish {topic}</c> span, or returns <see langword="null"/> when nobody samples it.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="count">Messages in the operation (MPUB batch size; 1 for PUB and DPUB).</param>
    /// <param name="command">The NSQ command: <c>PUB</c>, <c>MPUB</c> or <c>DPUB</c>.</param>
    public static Activity? StartPublish(string topic, int count, string command)
    {
        if (!ActivitySource.HasListeners())
        {
            return null;
        }

        var activity = ActivitySource.StartActivity("publish " + topic, ActivityKind.Producer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(SystemTag, SystemValue);
            activity.SetTag(DestinationTag, topic);
            activity.SetTag(OperationNameTag, "publish");
            activity.SetTag(OperationTypeTag, "send");
            activity.SetTag(CommandTag, command);
            if (count != 1)
            {
                activity.SetTag(BatchCountTag, count);
            }
        }

        return activity;
    }

    /// <summary>
    /// The caller's <c>publish</c> span when a publish runs inside one (<see cref="StartPublish"/> made it current),
    /// so a coalesced publish can be tagged with its batch; <see langword="null"/> when nobody listens.
    /// </summary>
    public static Activity? CurrentPublish()
    {
        if (!ActivitySource.HasListeners())
        {
            return null;
        }

        var current = Activity.Current;
        return current is not null && ReferenceEquals(current.Source, ActivitySource) && current.Kind == ActivityKind.Producer ? current : null;
    }

    /// <summary>
    /// Tags a publish's span when its message went out coalesced with others: the span stays one per logical
    /// publish, with the MPUB that carried it (<c>messaging.nsq.command</c>) and its size (<c>messaging.batch.message_count</c>).
    /// </summary>
    public static void TagCoalesced(Activity? activity, int batchSize)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(CommandTag, "MPUB");
            activity.SetTag(BatchCountTag, batchSize);
        }
    }

    /// <summary>Starts a <c>process {topic}</c> span for one delivered message, or returns <see langword="null"/> when nobody samples it.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="channel">The channel (the consumer group).</param>
    /// <param name="message">The delivered message.</param>
    public static Activity? StartProcess(string topic, string channel, NsqMessage message)
    {
        if (!ActivitySource.HasListeners())
        {
            return null;
        }

        var activity = ActivitySource.StartActivity("process " + topic, ActivityKind.Consumer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(SystemTag, SystemValue);
            activity.SetTag(DestinationTag, topic);
            activity.SetTag(ConsumerGroupTag, channel);
            activity.SetTag(OperationNameTag, "process");
            activity.SetTag(OperationTypeTag, "process");
            activity.SetTag(MessageIdTag, message.Id.ToString());
            activity.SetTag(AttemptsTag, (int)message.Attempts);
        }

        return activity;
    }

    /// <summary>
    /// Records the end of a publish: the sent counter, the duration histogram and the span's status.
    /// </summary>
    /// <param name="activity">The span from <see cref="StartPublish"/>, or <see langword="null"/>.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="count">Messages in the operation.</param>
    /// <param name="started">A <see cref="Stopwatch.GetTimestamp"/> taken when the publish began.</param>
    /// <param name="error">The failure, or <see langword="null"/> on success.</param>
    public static void PublishCompleted(Activity? activity, string topic, int count, long started, Exception? error)
    {
        var errorType = error is null ? null : ErrorType(error);
        if (SentMessages.Enabled || OperationDuration.Enabled)
        {
            var tags = new TagList
            {
                { SystemTag, SystemValue },
                { DestinationTag, topic },
                { OperationNameTag, "publish" },
                { OperationTypeTag, "send" },
            };
            if (errorType is not null)
            {
                tags.Add(ErrorTypeTag, errorType);
            }

            SentMessages.Add(count, tags);
            OperationDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }

        Stop(activity, error, errorType);
    }

    /// <summary>
    /// <see cref="PublishCompleted"/> for a failure, returning <see langword="false"/> so it can sit in an
    /// exception filter (<c>catch (Exception ex) when (NsqTelemetry.PublishFailed(...))</c>) without catching.
    /// </summary>
    public static bool PublishFailed(Activity? activity, string topic, int count, long started, Exception error)
    {
        PublishCompleted(activity, topic, count, started, error);
        return false;
    }

    /// <summary>
    /// Runs a publish inside a <c>publish {topic}</c> span and records its outcome. Call it only when
    /// <see cref="PublishObserved"/>; being async, the span it makes current never leaks into the caller's context.
    /// </summary>
    /// <typeparam name="TState">What <paramref name="publish"/> needs, so the delegate can be static.</typeparam>
    /// <param name="topic">The topic.</param>
    /// <param name="count">Messages in the operation.</param>
    /// <param name="command"><c>PUB</c>, <c>MPUB</c> or <c>DPUB</c>.</param>
    /// <param name="state">Passed to <paramref name="publish"/>.</param>
    /// <param name="publish">The publish itself.</param>
    public static async ValueTask ObservePublishAsync<TState>(string topic, int count, string command, TState state, Func<TState, ValueTask> publish)
    {
        var started = Stopwatch.GetTimestamp();
        var activity = StartPublish(topic, count, command);
        try
        {
            await publish(state).ConfigureAwait(false);
        }
        catch (Exception ex) when (PublishFailed(activity, topic, count, started, ex))
        {
            // Never reached: the filter records the failure and lets the exception pass.
        }

        PublishCompleted(activity, topic, count, started, error: null);
    }

    /// <summary>
    /// Awaits a publish that was already queued (its arguments validated synchronously by the caller) inside a
    /// <c>publish {topic}</c> span and records its outcome. Call it only when <see cref="PublishObserved"/>.
    /// </summary>
    /// <param name="pending">The queued publish.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="count">Messages in the operation.</param>
    /// <param name="command"><c>PUB</c>, <c>MPUB</c> or <c>DPUB</c>.</param>
    public static async ValueTask ObservePublishAsync(ValueTask pending, string topic, int count, string command)
    {
        var started = Stopwatch.GetTimestamp();
        var activity = StartPublish(topic, count, command);
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex) when (PublishFailed(activity, topic, count, started, ex))
        {
            // Never reached: the filter records the failure and lets the exception pass.
        }

        PublishCompleted(activity, topic, count, started, error: null);
    }

    /// <summary>Counts one message handed to the application.</summary>
    public static void Consumed(string topic, string channel)
    {
        if (ConsumedMessages.Enabled)
        {
            ConsumedMessages.Add(1, ConsumerTags(topic, channel, "process", "process"));
        }
    }

    /// <summary>Records the end of a handler invocation: the process-duration histogram and the span's status.</summary>
    /// <param name="activity">The span from <see cref="StartProcess"/>, or <see langword="null"/>.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="channel">The channel.</param>
    /// <param name="started">A <see cref="Stopwatch.GetTimestamp"/> taken before the handler ran; 0 when nobody observed.</param>
    /// <param name="error">What the handler threw, or <see langword="null"/>.</param>
    public static void ProcessCompleted(Activity? activity, string topic, string channel, long started, Exception? error)
    {
        var errorType = error is null ? null : ErrorType(error);
        if (started != 0 && ProcessDuration.Enabled)
        {
            var tags = ConsumerTags(topic, channel, "process", "process");
            if (errorType is not null)
            {
                tags.Add(ErrorTypeTag, errorType);
            }

            ProcessDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }

        Stop(activity, error, errorType);
    }

    /// <summary>Counts one REQ sent by a Reader.</summary>
    public static void Requeued(string topic, string channel)
    {
        if (RequeuedMessages.Enabled)
        {
            RequeuedMessages.Add(1, ConsumerTags(topic, channel, "requeue", "settle"));
        }
    }

    /// <summary>Counts one message given up on after max_tries.</summary>
    public static void GivingUp(string topic, string channel)
    {
        if (GivingUpMessages.Enabled)
        {
            GivingUpMessages.Add(1, ConsumerTags(topic, channel, "finish", "settle"));
        }
    }

    /// <summary>Counts one given-up message published to the dead-letter topic, or a failed attempt with its <c>error.type</c>.</summary>
    public static void DeadLettered(string topic, string channel, Exception? error)
    {
        if (DeadLetteredMessages.Enabled)
        {
            var tags = ConsumerTags(topic, channel, "dead_letter", "send");
            if (error is not null)
            {
                tags.Add(ErrorTypeTag, ErrorType(error));
            }

            DeadLetteredMessages.Add(1, tags);
        }
    }

    /// <summary>Counts one message given up at once as a permanent failure.</summary>
    public static void Poison(string topic, string channel, Exception error)
    {
        if (PoisonMessages.Enabled)
        {
            var tags = ConsumerTags(topic, channel, "finish", "settle");
            tags.Add(ErrorTypeTag, ErrorType(error));
            PoisonMessages.Add(1, tags);
        }
    }

    /// <summary>Counts one backoff a Reader started.</summary>
    public static void BackedOff(string topic, string channel)
    {
        if (Backoffs.Enabled)
        {
            Backoffs.Add(1, ConsumerTags(topic, channel, "backoff", "settle"));
        }
    }

    /// <summary>
    /// The <c>error.type</c> value: an nsqd error code (<c>E_BAD_TOPIC</c>) when the server refused,
    /// <c>timeout</c>/<c>canceled</c> for those, else the exception's full type name.
    /// </summary>
    public static string ErrorType(Exception error) => error switch
    {
        NsqServerException server => server.CodeText,
        NsqTimeoutException or TimeoutException => "timeout",
        OperationCanceledException => "canceled",
        _ => error.GetType().FullName ?? error.GetType().Name,
    };

    /// <summary>Makes a Reader's in-flight count observable until the returned registration is disposed.</summary>
    /// <param name="topic">The Reader's topic.</param>
    /// <param name="channel">The Reader's channel.</param>
    /// <param name="count">Reads the Reader's in-flight ledgers.</param>
    public static IDisposable TrackInFlight(string topic, string channel, Func<int> count)
    {
        var source = new InFlightSource(
            [
                new(SystemTag, SystemValue),
                new(DestinationTag, topic),
                new(ConsumerGroupTag, channel),
            ],
            count);
        InFlightSources.TryAdd(source, 0);
        return source;
    }

    private static IEnumerable<Measurement<long>> ObserveInFlight()
    {
        foreach (var source in InFlightSources.Keys)
        {
            yield return new Measurement<long>(source.Count(), source.Tags);
        }
    }

    private sealed class InFlightSource(KeyValuePair<string, object?>[] tags, Func<int> count) : IDisposable
    {
        public KeyValuePair<string, object?>[] Tags { get; } = tags;

        public Func<int> Count { get; } = count;

        public void Dispose() => InFlightSources.TryRemove(this, out _);
    }

    private static TagList ConsumerTags(string topic, string channel, string operationName, string operationType) => new()
    {
        { SystemTag, SystemValue },
        { DestinationTag, topic },
        { ConsumerGroupTag, channel },
        { OperationNameTag, operationName },
        { OperationTypeTag, operationType },
    };

    private static void Stop(Activity? activity, Exception? error, string? errorType)
    {
        if (activity is null)
        {
            return;
        }

        if (error is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, error.Message);
            activity.SetTag(ErrorTypeTag, errorType);
        }

        activity.Dispose();
    }

    private static string LibraryVersion()
    {
        var informational = typeof(NsqTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(informational))
        {
            return typeof(NsqTelemetry).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        }

        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? informational : informational[..plus];
    }
}
