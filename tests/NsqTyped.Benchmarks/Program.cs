using BenchmarkDotNet.Running;
using NsqTyped.Benchmarks.Soak;
using NsqTyped.Benchmarks.Throughput;

namespace NsqTyped.Benchmarks;

/// <summary>
/// <c>throughput ...</c>: the end-to-end throughput tool (docs/benchmarks.md); <c>throughput soak ...</c>: the soak
/// with faults (docs/reliability.md). Anything else goes to BenchmarkDotNet.
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "throughput")
        {
            return args.Length > 1 && args[1] == "soak"
                ? await SoakCommand.RunAsync(args[2..]).ConfigureAwait(false)
                : await ThroughputCommand.RunAsync(args[1..]).ConfigureAwait(false);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
