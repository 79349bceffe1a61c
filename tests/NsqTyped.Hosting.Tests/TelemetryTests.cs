using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using NsqTyped.Tests.Support;

namespace NsqTyped.Hosting.Tests;

/// <summary>
/// The <c>NsqTyped</c> ActivitySource and Meter as an OpenTelemetry SDK would see them (through
/// ActivityListener and MeterListener). Listeners are process-wide, so every test filters by its own topic;
/// the topics are unique, so these tests share nsqd (embedded or real) with the other classes running in parallel.
/// </summary>
public sealed class TelemetryTests : IDisposable
{
    private readonly NsqTestServers _servers;
    private readonly ConcurrentQueue<Activity> _activities = new();
    private readonly ConcurrentQueue<(string Instrument, double Value, Dictionary<string, object?> Tags)> _measurements = new();
    private readonly ActivityListener _activityListener;
    private readonly MeterListener _meterListener;

    public TelemetryTests(NsqTestServers servers)
    {
        _servers = servers;
        _activityListener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == NsqTypedTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _activities.Enqueue,
        };
        ActivitySource.AddActivityListener(_activityListener);

        _meterListener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == NsqTypedTelemetry.MeterName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _meterListener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _meterListener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _meterListener.Start();
    }

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        _activityListener.Dispose();
        _meterListener.Dispose();
    }

    [Fact]
    public async Task Publishes_make_producer_spans_and_count_sent_messages_with_their_duration()
    {
        var topic = UniqueTopic();
        await using var producer = new NsqProducer(_servers.NsqdTcpAddress);

        await producer.PublishAsync(topic, "one"u8.ToArray(), Token);
        await producer.PublishManyAsync(topic, ["a"u8.ToArray(), "b"u8.ToArray(), "c"u8.ToArray()], Token);
        await producer.PublishDeferredAsync(topic, "later"u8.ToArray(), TimeSpan.FromSeconds(1), Token);

        var spans = _activities.Where(a => Equals(a.GetTagItem("messaging.destination.name"), topic)).ToList();
        Assert.Equal(3, spans.Count);
        Assert.All(spans, span =>
        {
            Assert.Equal("publish " + topic, span.DisplayName);
            Assert.Equal(ActivityKind.Producer, span.Kind);
            Assert.Equal("nsq", span.GetTagItem("messaging.system"));
            Assert.Equal("publish", span.GetTagItem("messaging.operation.name"));
            Assert.Equal("send", span.GetTagItem("messaging.operation.type"));
            Assert.Equal(ActivityStatusCode.Unset, span.Status);
        });
        Assert.Equal(["DPUB", "MPUB", "PUB"], spans.Select(s => (string)s.GetTagItem("messaging.nsq.command")!).Order());
        Assert.Equal(3, spans.Single(s => Equals(s.GetTagItem("messaging.nsq.command"), "MPUB")).GetTagItem("messaging.batch.message_count"));

        var sent = Measurements("messaging.client.sent.messages", topic);
        Assert.Equal(5, sent.Sum(m => m.Value));
        Assert.All(sent, m => Assert.Equal("nsq", m.Tags["messaging.system"]));
        Assert.All(sent, m => Assert.False(m.Tags.ContainsKey("error.type")));
        var durations = Measurements("messaging.client.operation.duration", topic);
        Assert.Equal(3, durations.Count);
        Assert.All(durations, m => Assert.InRange(m.Value, 0, 10));
    }

    [Fact]
    public async Task A_failed_publish_is_an_error_span_and_counts_with_its_error_type()
    {
        var topic = UniqueTopic();
        await using var producer = new NsqProducer(NsqTestServers.UnusedTcpAddress(), NsqProducerOptions.Default with { DisconnectedPolicy = NsqDisconnectedPolicy.FailFast });

        await Assert.ThrowsAsync<NsqConnectionException>(async () => await producer.PublishAsync(topic, "x"u8.ToArray(), Token));

        var span = Assert.Single(_activities, a => Equals(a.GetTagItem("messaging.destination.name"), topic));
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal(typeof(NsqConnectionException).FullName, span.GetTagItem("error.type"));
        var sent = Assert.Single(Measurements("messaging.client.sent.messages", topic));
        Assert.Equal(typeof(NsqConnectionException).FullName, sent.Tags["error.type"]);
    }

    [Fact]
    public async Task Reader_makes_process_spans_and_counts_consumed_requeued_and_given_up_messages()
    {
        var topic = UniqueTopic();
        var handled = new ConcurrentQueue<string>();
        var givenUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var reader = new NsqReader(
            new NsqReaderOptions
            {
                Topic = topic,
                Channel = "audit",
                NsqdTcpAddresses = [_servers.NsqdTcpAddress],
                MaxInFlight = 5,
                MaxTries = 1,
                MaxBackoffDuration = TimeSpan.Zero,
                RequeueDelay = TimeSpan.Zero,
            },
            (message, _) =>
            {
                var text = System.Text.Encoding.UTF8.GetString(message.Body.Span);
                handled.Enqueue(text);
                return text == "bad" ? throw new InvalidOperationException("refused") : ValueTask.CompletedTask;
            });
        reader.GivingUp += (_, _) => givenUp.TrySetResult();
        await reader.StartAsync(Token);
        await using var producer = new NsqProducer(_servers.NsqdTcpAddress);

        await producer.PublishAsync(topic, "good"u8.ToArray(), Token);
        await producer.PublishAsync(topic, "bad"u8.ToArray(), Token);
        await givenUp.Task.WaitAsync(TimeSpan.FromSeconds(10), Token);
        await Eventually.TrueAsync(() => Measurements("messaging.nsq.client.giving_up.messages", topic).Count == 1, "the giving-up counter is recorded");

        var spans = _activities.Where(a => a.Kind == ActivityKind.Consumer && Equals(a.GetTagItem("messaging.destination.name"), topic)).ToList();
        Assert.Equal(2, spans.Count);
        Assert.All(spans, span =>
        {
            Assert.Equal("process " + topic, span.DisplayName);
            Assert.Equal("audit", span.GetTagItem("messaging.consumer.group.name"));
            Assert.Equal("process", span.GetTagItem("messaging.operation.type"));
            Assert.Equal(16, ((string)span.GetTagItem("messaging.message.id")!).Length);
        });
        var failed = Assert.Single(spans, s => s.Status == ActivityStatusCode.Error);
        Assert.Equal(typeof(InvalidOperationException).FullName, failed.GetTagItem("error.type"));

        Assert.Equal(2, Measurements("messaging.client.consumed.messages", topic).Sum(m => m.Value));
        var requeued = Assert.Single(Measurements("messaging.nsq.client.requeued.messages", topic));
        Assert.Equal("audit", requeued.Tags["messaging.consumer.group.name"]);
        Assert.Equal(1, Measurements("messaging.nsq.client.giving_up.messages", topic).Sum(m => m.Value));
        Assert.Equal(2, Measurements("messaging.process.duration", topic).Count);
        Assert.Equal(["bad", "good"], handled.Order());
    }

    private static string UniqueTopic() => NsqTestServers.UniqueTopic("telemetry");

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        _measurements.Enqueue((instrument.Name, value, copy));
    }

    private List<(string Instrument, double Value, Dictionary<string, object?> Tags)> Measurements(string instrument, string topic) =>
        [.. _measurements.Where(m => m.Instrument == instrument && Equals(m.Tags.GetValueOrDefault("messaging.destination.name"), topic))];
}
