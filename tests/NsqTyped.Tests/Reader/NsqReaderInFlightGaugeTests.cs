using System.Diagnostics.Metrics;
using NsqTyped.Diagnostics;
using NsqTyped.Tests.Support;
using static NsqTyped.Tests.Reader.ReaderTestKit;

namespace NsqTyped.Tests.Reader;

/// <summary>The in-flight gauge of the NsqTyped meter reads the Reader's in-flight ledgers.</summary>
public sealed class NsqReaderInFlightGaugeTests(NsqTestServers servers)
{
    private readonly string _topic = NsqTestServers.UniqueTopic("gauge");
    private readonly string _channel = NsqTestServers.UniqueChannel("ch");

    [Fact]
    public async Task In_flight_gauge_follows_the_messages_a_reader_holds()
    {
        using var gauge = new InFlightGauge(_topic, _channel);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = 0;
        var reader = new NsqReader(
            Fast(_topic, _channel) with { NsqdTcpAddresses = [servers.NsqdTcpAddress], MaxInFlight = 4, MaxConcurrency = 4 },
            async (_, _) =>
            {
                Interlocked.Increment(ref started);
                await release.Task;
            });
        await reader.StartAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, gauge.Read());

        await PublishAsync(servers.NsqdTcpAddress, _topic, 10);

        // The handlers block: what they hold (and any message queued behind them) is what nsqd has in flight.
        await WaitUntilAsync(
            async () => Volatile.Read(ref started) > 0
                && gauge.Read() is var held && held >= Volatile.Read(ref started)
                && held == (await ChannelStatsAsync(servers.NsqdHttpAddress.ToString(), _topic, _channel))?.InFlightCount,
            "the gauge shows what nsqd has in flight");

        release.SetResult();
        await WaitUntilAsync(
            async () => await ChannelStatsAsync(servers.NsqdHttpAddress.ToString(), _topic, _channel) is { Depth: 0, InFlightCount: 0 },
            "every message finished");
        await WaitUntilAsync(() => gauge.Read() == 0, "nothing in flight once every message is finished");
        Assert.Equal(10, Volatile.Read(ref started));

        // A closed Reader is no longer observed.
        await reader.DisposeAsync();
        Assert.Null(gauge.ReadOrNull());
    }

    /// <summary>Observes <c>messaging.nsq.client.in_flight.messages</c> for one topic and channel.</summary>
    private sealed class InFlightGauge : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly object _gate = new();
        private long? _last;

        public InFlightGauge(string topic, string channel)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == NsqTypedTelemetry.MeterName && instrument.Name == "messaging.nsq.client.in_flight.messages")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                string? t = null, c = null;
                foreach (var tag in tags)
                {
                    if (tag.Key == "messaging.destination.name")
                    {
                        t = tag.Value as string;
                    }
                    else if (tag.Key == "messaging.consumer.group.name")
                    {
                        c = tag.Value as string;
                    }
                }

                if (t == topic && c == channel)
                {
                    lock (_gate)
                    {
                        _last = value;
                    }
                }
            });
            _listener.Start();
        }

        /// <summary>Observes the instrument now; <see langword="null"/> when no Reader of this topic and channel is registered.</summary>
        public long? ReadOrNull()
        {
            lock (_gate)
            {
                _last = null;
            }

            _listener.RecordObservableInstruments();
            lock (_gate)
            {
                return _last;
            }
        }

        public long Read() => ReadOrNull() ?? throw new InvalidOperationException("The Reader is not observed.");

        public void Dispose() => _listener.Dispose();
    }
}
