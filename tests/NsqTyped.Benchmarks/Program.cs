using BenchmarkDotNet.Running;
using NsqTyped.Benchmarks.Throughput;

namespace NsqTyped.Benchmarks;

/// <summary>
/// <c>throughput ...</c>: the end-to-end throughput tool (docs/benchmarks.md). Anything else goes to BenchmarkDotNet.
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "throughput")
        {
            return await ThroughputCommand.RunAsync(args[1..]).ConfigureAwait(false);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
