using System.Globalization;
using NsqTyped.Benchmarks.Throughput;

namespace NsqTyped.Benchmarks.Soak;

/// <summary>The parsed command line of <see cref="SoakCommand"/>.</summary>
internal sealed record SoakArguments
{
    public const string Usage =
        """
        usage: throughput soak [--duration 60s] [--rate 2000] [--interval 5s] [--fault-every 10s]
                               [--stall 2s] [--msg-timeout 10s] [--max-heap-growth-mb 8] [--drain-timeout 60s]
                               [--server inproc|process]

        Publishes (NsqProducer) and consumes (NsqReader) one topic continuously through an in-process TCP fault
        proxy that cuts every connection (both directions) or stalls server-to-client traffic, in turn.
        Exit code 1 on any loss (an acknowledged publish never handled), on managed-heap growth above the
        bound, or when nothing was published or handled; 2 on a bad command line.
        --duration        how long to publish [60s]; durations as 90s, 30m, 1h or hh:mm:ss
        --rate            publishes per second attempted [2000]
        --interval        report interval [5s]
        --fault-every     time between faults [10s]
        --stall           length of a stall [2s]
        --msg-timeout     the Reader's msg_timeout (IDENTIFY): messages a cut connection had in flight come back
                          after it [10s]
        --max-heap-growth-mb  bound on managed heap growth, end vs. after warm-up, full GC each [8]
        --drain-timeout   how long to wait, after publishing stops, for every acknowledged id to be handled [60s]
        --server          without NSQD_TCP_ADDRESS: embedded nsqd in this process [inproc] or a child process [process]
        """;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);

    public int Rate { get; init; } = 2000;

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan FaultEvery { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan Stall { get; init; } = TimeSpan.FromSeconds(2);

    public long MaxHeapGrowthBytes { get; init; } = 8L * 1024 * 1024;

    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan MsgTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public BenchServerKind Server { get; init; } = BenchServerKind.InProcess;

    public bool ShowHelp { get; init; }

    /// <exception cref="ArgumentException">An unknown flag or a value out of range.</exception>
    public static SoakArguments Parse(IReadOnlyList<string> args)
    {
        var result = new SoakArguments();
        for (var i = 0; i < args.Count; i++)
        {
            result = args[i] switch
            {
                "-h" or "--help" => result with { ShowHelp = true },
                "--duration" => result with { Duration = Positive(ParseDuration(Value(args, ref i)), "--duration") },
                "--rate" => result with { Rate = (int)Positive(int.Parse(Value(args, ref i), CultureInfo.InvariantCulture), "--rate") },
                "--interval" => result with { Interval = Positive(ParseDuration(Value(args, ref i)), "--interval") },
                "--fault-every" => result with { FaultEvery = Positive(ParseDuration(Value(args, ref i)), "--fault-every") },
                "--stall" => result with { Stall = Positive(ParseDuration(Value(args, ref i)), "--stall") },
                "--max-heap-growth-mb" => result with { MaxHeapGrowthBytes = Positive(long.Parse(Value(args, ref i), CultureInfo.InvariantCulture), "--max-heap-growth-mb") * 1024 * 1024 },
                "--msg-timeout" => result with { MsgTimeout = Positive(ParseDuration(Value(args, ref i)), "--msg-timeout") },
                "--drain-timeout" => result with { DrainTimeout = Positive(ParseDuration(Value(args, ref i)), "--drain-timeout") },
                "--server" => result with
                {
                    Server = Value(args, ref i) switch
                    {
                        "inproc" => BenchServerKind.InProcess,
                        "process" => BenchServerKind.ChildProcess,
                        var other => throw new ArgumentException($"--server: '{other}' is not inproc or process."),
                    },
                },
                var other => throw new ArgumentException($"Unknown argument '{other}'."),
            };
        }

        return result;
    }

    /// <summary>Parses <c>90s</c>, <c>30m</c>, <c>1h</c>, <c>500ms</c>, a number of seconds, or <c>hh:mm:ss</c>.</summary>
    public static TimeSpan ParseDuration(string value)
    {
        static double Number(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

        try
        {
            return value switch
            {
                _ when value.Contains(':', StringComparison.Ordinal) => TimeSpan.Parse(value, CultureInfo.InvariantCulture),
                _ when value.EndsWith("ms", StringComparison.Ordinal) => TimeSpan.FromMilliseconds(Number(value[..^2])),
                _ when value.EndsWith('s') => TimeSpan.FromSeconds(Number(value[..^1])),
                _ when value.EndsWith('m') => TimeSpan.FromMinutes(Number(value[..^1])),
                _ when value.EndsWith('h') => TimeSpan.FromHours(Number(value[..^1])),
                _ => TimeSpan.FromSeconds(Number(value)),
            };
        }
        catch (FormatException)
        {
            throw new ArgumentException($"'{value}' is not a duration (90s, 30m, 1h, 500ms or hh:mm:ss).");
        }
    }

    private static T Positive<T>(T value, string flag)
        where T : IComparable<T> =>
        value.CompareTo(default!) > 0 ? value : throw new ArgumentException($"{flag} must be positive.");

    private static string Value(IReadOnlyList<string> args, ref int i) =>
        i + 1 < args.Count ? args[++i] : throw new ArgumentException($"Flag '{args[i]}' needs a value.");
}
