using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using NsqTyped.Benchmarks.Throughput;
using NsqTyped.Tests.Support;

namespace NsqTyped.Benchmarks.Soak;

/// <summary>
/// <c>throughput soak</c>: publishes and consumes one topic for a duration through a fault proxy that cuts
/// or stalls the connections periodically, and checks that no acknowledged publish is lost and that the
/// managed heap does not grow (docs/reliability.md).
/// </summary>
internal static class SoakCommand
{
    private const string Channel = "soak";
    private const int BodySize = 100;
    private const int MaxOutstandingPublishes = 1000;

    public static async Task<int> RunAsync(string[] args)
    {
        SoakArguments arguments;
        try
        {
            arguments = SoakArguments.Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine("error: " + ex.Message);
            Console.Error.WriteLine(SoakArguments.Usage);
            return 2;
        }

        if (arguments.ShowHelp)
        {
            Console.WriteLine(SoakArguments.Usage);
            return 0;
        }

        long unobserved = 0;
        TaskScheduler.UnobservedTaskException += (_, e) =>
        {
            Interlocked.Increment(ref unobserved);
            Console.WriteLine($"unobserved task exception: {e.Exception.InnerException?.GetType().Name}: {e.Exception.InnerException?.Message}");
        };

        await using var server = await BenchServer.StartAsync(arguments.Server, CancellationToken.None).ConfigureAwait(false);
        await using var proxy = FaultProxy.Start(server.TcpAddress);
        var topic = $"soak.{Environment.ProcessId}";
        Console.WriteLine($"server: {server.Description}");
        Console.WriteLine($"fault proxy: {proxy.Address} -> {server.TcpAddress}; topic {topic}, channel {Channel}");
        Console.WriteLine($"duration {arguments.Duration}, {arguments.Rate}/s attempted, Reader msg_timeout {arguments.MsgTimeout.TotalSeconds:F0} s, a fault every {arguments.FaultEvery} (cut all connections / stall server-to-client {arguments.Stall}), heap growth bound {arguments.MaxHeapGrowthBytes / (1024 * 1024)} MB");
        Console.WriteLine($"machine: {Environment.ProcessorCount} CPUs, load average {ThroughputCommand.LoadAverage()}");

        var ledger = new SoakLedger();
        long handlerFailures = 0;
        var reader = new NsqReader(
            new NsqReaderOptions
            {
                Topic = topic,
                Channel = Channel,
                NsqdTcpAddresses = [proxy.Address],
                MaxInFlight = 200,
                ReconnectDelay = TimeSpan.FromMilliseconds(200),
                MaxReconnectDelay = TimeSpan.FromSeconds(2),

                // nsqd keeps what a cut connection had in flight until msg_timeout, then redelivers it.
                Connection = NsqdConnectionOptions.Default with { MsgTimeout = arguments.MsgTimeout },
            },
            (message, _) =>
            {
                ledger.Handle(BinaryPrimitives.ReadInt64LittleEndian(message.Body.Span));
                return ValueTask.CompletedTask;
            });
        reader.HandlerException += (_, _) => Interlocked.Increment(ref handlerFailures);
        var producer = new NsqProducer(proxy.Address);
        var stats = new PublishStats();
        var exitCode = 0;
        await using (reader.ConfigureAwait(false))
        await using (producer.ConfigureAwait(false))
        {
            await reader.StartAsync().ConfigureAwait(false);
            using var stopPublishing = new CancellationTokenSource(arguments.Duration);
            var start = Stopwatch.GetTimestamp();
            var publishing = PublishLoopAsync(producer, topic, arguments.Rate, ledger, stats, stopPublishing.Token);
            var faults = FaultLoopAsync(proxy, arguments, stopPublishing.Token);

            var memory = new HeapWatch(warmUp: TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(10).Ticks, arguments.Duration.Ticks / 6)));
            Console.WriteLine();
            Console.WriteLine("     t | published/s | handled/s | pending | dups | pub errors | faults | live heap MB | GC heap MB | fds | threads");
            var report = new Reporter(ledger, stats, start);
            while (!stopPublishing.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(arguments.Interval, stopPublishing.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }

                memory.Sample(Stopwatch.GetElapsedTime(start));
                report.Print(memory.LastHeap, memory.LastGcHeap, faults.Count);
                if (memory.LastHeap - (memory.Baseline ?? memory.LastHeap) > arguments.MaxHeapGrowthBytes)
                {
                    Console.WriteLine("the live heap already grew beyond the bound; stopping early");
                    await stopPublishing.CancelAsync().ConfigureAwait(false);
                }
            }

            await publishing.ConfigureAwait(false);
            await faults.Task.ConfigureAwait(false);
            proxy.ResumeServerToClient();

            // Drain: every acknowledged id must be handled; nsqd redelivers whatever a cut left in flight.
            var drainStart = Stopwatch.GetTimestamp();
            var (pending, first) = ledger.Unhandled();
            while (pending > 0 && Stopwatch.GetElapsedTime(drainStart) < arguments.DrainTimeout)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250)).ConfigureAwait(false);
                (pending, first) = ledger.Unhandled();
            }

            var drained = Stopwatch.GetElapsedTime(drainStart);
            memory.Sample(Stopwatch.GetElapsedTime(start));
            report.Print(memory.LastHeap, memory.LastGcHeap, faults.Count);
            var (baseline, end) = memory.Finish();
            var growth = end - baseline;

            Console.WriteLine();
            Console.WriteLine($"load average at the end: {ThroughputCommand.LoadAverage()}");
            Console.WriteLine($"published (acknowledged): {ledger.AcknowledgedTotal:N0} in {arguments.Duration.TotalSeconds:N0} s; publish attempts failed (then retried): {stats.Failures:N0}; given up at the end (never acknowledged): {stats.GivenUp:N0}");
            Console.WriteLine($"handled: {ledger.HandledTotal:N0} deliveries, duplicates: {ledger.Duplicates:N0}, handler failures: {Interlocked.Read(ref handlerFailures)}");
            Console.WriteLine($"faults injected: {faults.Count} ({faults.Cuts} cuts, {faults.Stalls} stalls); proxy connections accepted: {proxy.AcceptedCount}");
            Console.WriteLine($"drain after publishing stopped: {drained.TotalSeconds:F1} s");
            Console.WriteLine($"managed heap (full GC): {Mb(baseline)} MB after warm-up, {Mb(end)} MB at the end, growth {Mb(growth)} MB (bound {Mb(arguments.MaxHeapGrowthBytes)} MB; the soak's own id bitmaps hold {Mb(ledger.Bytes)} MB); peak {Mb(memory.PeakHeap)} MB");
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Console.WriteLine($"unobserved task exceptions: {Interlocked.Read(ref unobserved)}");

            if (pending > 0)
            {
                Console.WriteLine($"FAIL: {pending:N0} acknowledged publishes were never handled (lost), e.g. ids {string.Join(", ", first)}");
                exitCode = 1;
            }

            if (growth > arguments.MaxHeapGrowthBytes)
            {
                Console.WriteLine($"FAIL: the managed heap grew by {Mb(growth)} MB, more than {Mb(arguments.MaxHeapGrowthBytes)} MB");
                exitCode = 1;
            }

            if (ledger.AcknowledgedTotal == 0 || ledger.HandledTotal == 0)
            {
                Console.WriteLine("FAIL: nothing was published or nothing was handled");
                exitCode = 1;
            }

            Console.WriteLine(exitCode == 0 ? "PASS: no loss, heap growth within the bound" : "soak FAILED");
            await reader.CloseAsync().ConfigureAwait(false);
        }

        await DeleteTopicAsync(server, topic).ConfigureAwait(false);
        return exitCode;
    }

    /// <summary>
    /// Publishes ids 0, 1, 2, ... at <paramref name="rate"/> per second with up to
    /// <see cref="MaxOutstandingPublishes"/> in flight. A failed publish is retried with the same id (the
    /// usual at-least-once producer), so only a publish still failing when the soak ends is given up.
    /// </summary>
    private static async Task PublishLoopAsync(NsqProducer producer, string topic, int rate, SoakLedger ledger, PublishStats stats, CancellationToken stop)
    {
        using var slots = new SemaphoreSlim(MaxOutstandingPublishes);
        var inFlight = new List<Task>();
        var start = Stopwatch.GetTimestamp();
        long id = 0;
        while (!stop.IsCancellationRequested)
        {
            // Pace by schedule: id n is due at n / rate seconds.
            var due = TimeSpan.FromSeconds((double)id / rate) - Stopwatch.GetElapsedTime(start);
            if (due > TimeSpan.FromMilliseconds(1))
            {
                try
                {
                    await Task.Delay(due, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            try
            {
                await slots.WaitAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            inFlight.Add(PublishOneAsync(producer, topic, id++, ledger, stats, slots, stop));
            if (inFlight.Count >= 4 * MaxOutstandingPublishes)
            {
                inFlight.RemoveAll(t => t.IsCompleted);
            }
        }

        await Task.WhenAll(inFlight).ConfigureAwait(false);
    }

    private static async Task PublishOneAsync(NsqProducer producer, string topic, long id, SoakLedger ledger, PublishStats stats, SemaphoreSlim slots, CancellationToken stop)
    {
        var body = new byte[BodySize];
        BinaryPrimitives.WriteInt64LittleEndian(body, id);
        try
        {
            // After the soak's end a failing publish gets 30 s more, then it is given up (never acknowledged: not a loss).
            var giveUp = Stopwatch.GetTimestamp();
            while (true)
            {
                try
                {
                    await producer.PublishAsync(topic, body).ConfigureAwait(false);
                    ledger.Acknowledge(id);
                    return;
                }
                catch (Exception ex) when (ex is NsqException or OperationCanceledException or TimeoutException or IOException)
                {
                    Interlocked.Increment(ref stats.Failures);
                    if (stop.IsCancellationRequested && Stopwatch.GetElapsedTime(giveUp) > TimeSpan.FromSeconds(30))
                    {
                        Interlocked.Increment(ref stats.GivenUp);
                        return;
                    }

                    if (!stop.IsCancellationRequested)
                    {
                        giveUp = Stopwatch.GetTimestamp();
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(100), CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            slots.Release();
        }
    }

    /// <summary>Every <see cref="SoakArguments.FaultEvery"/>: cut every connection, or stall server-to-client traffic, in turn.</summary>
    private static FaultSchedule FaultLoopAsync(FaultProxy proxy, SoakArguments arguments, CancellationToken stop)
    {
        var schedule = new FaultSchedule();
        schedule.Task = RunAsync();
        return schedule;

        async Task RunAsync()
        {
            var cut = true;
            while (true)
            {
                try
                {
                    await Task.Delay(arguments.FaultEvery, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                if (cut)
                {
                    proxy.Cut();
                    Interlocked.Increment(ref schedule.Cuts);
                }
                else
                {
                    proxy.PauseServerToClient();
                    Interlocked.Increment(ref schedule.Stalls);
                    try
                    {
                        await Task.Delay(arguments.Stall, stop).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                    }

                    proxy.ResumeServerToClient();
                }

                cut = !cut;
            }
        }
    }

    private static async Task DeleteTopicAsync(BenchServer server, string topic)
    {
        using var http = new NsqdHttpClient(server.HttpAddress);
        try
        {
            await http.DeleteTopicAsync(topic).ConfigureAwait(false);
        }
        catch (NsqHttpException)
        {
        }
    }

    private static string Mb(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("F1", CultureInfo.InvariantCulture);

    private sealed class PublishStats
    {
        public long Failures;
        public long GivenUp;
    }

    private sealed class FaultSchedule
    {
        public int Cuts;
        public int Stalls;

        public Task Task { get; set; } = Task.CompletedTask;

        public int Count => Volatile.Read(ref Cuts) + Volatile.Read(ref Stalls);
    }

    /// <summary>
    /// Managed heap over time: the live heap (after a full, blocking GC: garbage not yet collected would hide
    /// growth or fake it) at every interval; the baseline is the first sample after warm-up.
    /// </summary>
    private sealed class HeapWatch(TimeSpan warmUp)
    {
        public long? Baseline { get; private set; }

        public long LastHeap { get; private set; }

        public long LastGcHeap { get; private set; }

        public long PeakHeap { get; private set; }

        public void Sample(TimeSpan elapsed)
        {
            LastHeap = GC.GetTotalMemory(forceFullCollection: true);
            LastGcHeap = GC.GetGCMemoryInfo().HeapSizeBytes;
            PeakHeap = Math.Max(PeakHeap, LastHeap);
            if (Baseline is null && elapsed >= warmUp)
            {
                Baseline = LastHeap;
            }
        }

        public (long Baseline, long End) Finish()
        {
            var end = GC.GetTotalMemory(forceFullCollection: true);
            return (Baseline ?? end, end);
        }
    }

    /// <summary>One line per interval: rates since the last line, pending, duplicates, memory, handles, threads.</summary>
    private sealed class Reporter(SoakLedger ledger, PublishStats stats, long start)
    {
        private long _lastAcknowledged;
        private long _lastHandled;
        private TimeSpan _last;

        public void Print(long heap, long gcHeap, int faults)
        {
            var now = Stopwatch.GetElapsedTime(start);
            var seconds = Math.Max((now - _last).TotalSeconds, 0.001);
            var acknowledged = ledger.AcknowledgedTotal;
            var handled = ledger.HandledTotal;
            var (pending, _) = ledger.Unhandled(0);
            using var process = Process.GetCurrentProcess();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{now.TotalSeconds,5:F0}s | {(acknowledged - _lastAcknowledged) / seconds,11:N0} | {(handled - _lastHandled) / seconds,9:N0} | {pending,7:N0} | {ledger.Duplicates,4:N0} | {Interlocked.Read(ref stats.Failures),10:N0} | {faults,6} | {Mb(heap),7} | {Mb(gcHeap),10} | {OpenFileDescriptors(),3} | {process.Threads.Count,7}"));
            _lastAcknowledged = acknowledged;
            _lastHandled = handled;
            _last = now;
        }

        private static int OpenFileDescriptors()
        {
            try
            {
                return Directory.GetFiles("/proc/self/fd").Length;
            }
            catch (DirectoryNotFoundException)
            {
                using var process = Process.GetCurrentProcess();
                return process.HandleCount;
            }
        }
    }
}
