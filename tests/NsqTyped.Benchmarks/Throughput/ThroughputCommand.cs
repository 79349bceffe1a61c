using System.Globalization;
using System.Runtime.InteropServices;

namespace NsqTyped.Benchmarks.Throughput;

/// <summary>
/// <c>throughput [workload ...] [--messages N] [--runs R] [--server process|inproc]</c>: runs each workload
/// R times against nsqd and prints the median msgs/s, client CPU-seconds per 1M messages, bytes allocated
/// per message and the ratio to the workload's raw mode (docs/benchmarks.md).
/// </summary>
internal static class ThroughputCommand
{
    public const string Usage =
        """
        usage: throughput [workload ...] [--messages N] [--runs R] [--server process|inproc]

        workloads (default: all): consume, consume-rdy1, typed-consume, deserialize-only, pub, syncpub, mpub,
          and their limits raw-consume, raw-consume-rdy1, raw-pub, raw-syncpub, raw-mpub (a library workload
          brings its raw mode along, so the ratio can be computed).
        --messages N   messages per run [100000]; consume-rdy1, syncpub and their raw modes use N/10
        --runs R       runs per workload, the median is reported [3]
        --server       without NSQD_TCP_ADDRESS: the embedded nsqd as a child process (samples/EmbeddedServer,
                       client CPU measured alone) [process], or inside this process (CPU includes the server) [inproc]
        NSQD_TCP_ADDRESS (and NSQD_HTTP_ADDRESS, default TCP port + 1) select a real nsqd instead.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        ThroughputArguments arguments;
        try
        {
            arguments = ThroughputArguments.Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine("error: " + ex.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        if (arguments.ShowHelp)
        {
            Console.WriteLine(Usage);
            return 0;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        await using var server = await BenchServer.StartAsync(arguments.Server, cancel.Token).ConfigureAwait(false);
        Console.WriteLine($"server: {server.Description}");
        Console.WriteLine($"machine: {Environment.ProcessorCount} CPUs, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, load average {LoadAverage()}");
        Console.WriteLine($"messages per run: {arguments.Messages:N0} (N/10 for the RDY 1 and one-at-a-time workloads), runs: {arguments.Runs}, typed body {Workloads.TypedBody.Length} B");
        Console.WriteLine();

        var samples = arguments.Workloads.ToDictionary(w => w.Name, _ => new List<Sample>());

        // Warm-up (JIT, pools, connections): one short run of each, not reported.
        foreach (var workload in arguments.Workloads)
        {
            await RunOnceAsync(server, workload, Math.Max(MessagesFor(workload, arguments.Messages) / 10, 1000), cancel.Token).ConfigureAwait(false);
        }

        // Runs interleave the workloads, so a change in machine load hits every workload alike.
        for (var run = 1; run <= arguments.Runs; run++)
        {
            foreach (var workload in arguments.Workloads)
            {
                var sample = await RunOnceAsync(server, workload, MessagesFor(workload, arguments.Messages), cancel.Token).ConfigureAwait(false);
                samples[workload.Name].Add(sample);
                Console.WriteLine($"run {run} {workload.Name,-17} {sample.PerSecond,12:N0} msgs/s {sample.CpuSecondsPerMillion,8:F2} CPU-s/1M {sample.BytesPerMessage,9:N0} B/msg");
            }
        }

        Console.WriteLine();
        Console.WriteLine($"load average after the runs: {LoadAverage()}");
        Console.WriteLine();
        PrintTable(server, arguments.Workloads, samples);
        return 0;
    }

    private static long MessagesFor(Workload workload, long messages)
    {
        var n = Math.Max(messages / workload.Share, 1);
        return workload.Name.EndsWith("mpub", StringComparison.Ordinal) ? Math.Max(n / Workloads.MpubBatch, 1) * Workloads.MpubBatch : n;
    }

    private static async Task<Sample> RunOnceAsync(BenchServer server, Workload workload, long messages, CancellationToken cancellationToken)
    {
        var probe = new Probe(server);
        var context = new WorkloadContext(server, probe, cancellationToken);
        try
        {
            await workload.Run(context, messages).ConfigureAwait(false);
        }
        finally
        {
            await context.CleanUpAsync().ConfigureAwait(false);
        }

        // Garbage of one run must not be collected on the next run's time.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return probe.Sample;
    }

    private static void PrintTable(BenchServer server, IReadOnlyList<Workload> workloads, Dictionary<string, List<Sample>> samples)
    {
        var withServerCpu = server.Kind == BenchServerKind.ChildProcess;
        Console.WriteLine($"Median of {samples.Values.First().Count} runs; {server.Description}.");
        Console.WriteLine();
        var header = "| workload | messages | msgs/s | CPU-s per 1M | B allocated per msg | rate vs raw | CPU vs raw |";
        var rule = "|---|---:|---:|---:|---:|---:|---:|";
        if (withServerCpu)
        {
            header += " server CPU-s per 1M |";
            rule += "---:|";
        }

        Console.WriteLine(header);
        Console.WriteLine(rule);
        foreach (var workload in workloads)
        {
            var runs = samples[workload.Name];
            var rate = Median(runs.Select(s => s.PerSecond));
            var cpu = Median(runs.Select(s => s.CpuSecondsPerMillion));
            var bytes = Median(runs.Select(s => s.BytesPerMessage));
            string rateRatio = "–", cpuRatio = "–";
            if (workload.Raw is { } raw && samples.TryGetValue(raw, out var rawRuns))
            {
                rateRatio = (rate / Median(rawRuns.Select(s => s.PerSecond))).ToString("F2", CultureInfo.InvariantCulture) + "×";
                cpuRatio = (cpu / Median(rawRuns.Select(s => s.CpuSecondsPerMillion))).ToString("F2", CultureInfo.InvariantCulture) + "×";
            }

            var line = string.Create(CultureInfo.InvariantCulture,
                $"| {workload.Name} | {runs[0].Messages:N0} | {rate:N0} | {cpu:F2} | {bytes:N0} | {rateRatio} | {cpuRatio} |");
            if (withServerCpu)
            {
                line += string.Create(CultureInfo.InvariantCulture, $" {Median(runs.Select(s => s.ServerCpuSecondsPerMillion ?? 0)):F2} |");
            }

            Console.WriteLine(line);
        }

        // Issue 11's budget for the typed layer is stated against these two, so print the ratio.
        if (samples.TryGetValue("typed-consume", out var typed) && samples.TryGetValue("consume", out var plain) && samples.TryGetValue("deserialize-only", out var deserialize))
        {
            var ratio = Median(typed.Select(s => s.CpuSecondsPerMillion))
                / (Median(plain.Select(s => s.CpuSecondsPerMillion)) + Median(deserialize.Select(s => s.CpuSecondsPerMillion)));
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"typed-consume CPU / (consume CPU + deserialize-only CPU) = {ratio:F2}"));
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>The 1-, 5- and 15-minute load averages (Linux), or "n/a".</summary>
    public static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{parts[0]} {parts[1]} {parts[2]}";
        }
        catch (IOException)
        {
            return "n/a";
        }
        catch (UnauthorizedAccessException)
        {
            return "n/a";
        }
    }
}

/// <summary>The parsed command line of <see cref="ThroughputCommand"/>.</summary>
internal sealed record ThroughputArguments(IReadOnlyList<Workload> Workloads, long Messages, int Runs, BenchServerKind Server, bool ShowHelp)
{
    /// <exception cref="ArgumentException">An unknown workload or flag, or a value out of range.</exception>
    public static ThroughputArguments Parse(IReadOnlyList<string> args)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        long messages = 100_000;
        var runs = 3;
        var server = BenchServerKind.ChildProcess;
        var help = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "-h" or "--help":
                    help = true;
                    break;
                case "--messages":
                    messages = long.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
                    if (messages < 10_000)
                    {
                        throw new ArgumentException("--messages must be at least 10000.");
                    }

                    break;
                case "--runs":
                    runs = int.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
                    if (runs < 1)
                    {
                        throw new ArgumentException("--runs must be at least 1.");
                    }

                    break;
                case "--server":
                    server = Value(args, ref i) switch
                    {
                        "process" => BenchServerKind.ChildProcess,
                        "inproc" => BenchServerKind.InProcess,
                        var other => throw new ArgumentException($"--server: '{other}' is not process or inproc."),
                    };
                    break;
                default:
                    if (arg.StartsWith('-'))
                    {
                        throw new ArgumentException($"Unknown flag '{arg}'.");
                    }

                    var workload = Throughput.Workloads.All.FirstOrDefault(w => w.Name == arg)
                        ?? throw new ArgumentException($"Unknown workload '{arg}'.");
                    names.Add(workload.Name);
                    if (workload.Raw is { } raw)
                    {
                        names.Add(raw);
                    }

                    if (workload.Name == "typed-consume")
                    {
                        // Its CPU budget is stated against consume + deserialize-only.
                        names.Add("consume");
                        names.Add("deserialize-only");
                    }

                    break;
            }
        }

        var selected = names.Count == 0 ? Throughput.Workloads.All : Throughput.Workloads.All.Where(w => names.Contains(w.Name)).ToArray();
        return new ThroughputArguments(selected, messages, runs, server, help);
    }

    private static string Value(IReadOnlyList<string> args, ref int i) =>
        i + 1 < args.Count ? args[++i] : throw new ArgumentException($"Flag '{args[i]}' needs a value.");
}
