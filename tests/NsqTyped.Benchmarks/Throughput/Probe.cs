using System.Diagnostics;

namespace NsqTyped.Benchmarks.Throughput;

/// <summary>What one timed section cost: wall time, process CPU, managed bytes allocated, server CPU.</summary>
internal sealed record Sample(long Messages, TimeSpan Elapsed, TimeSpan Cpu, long AllocatedBytes, TimeSpan? ServerCpu)
{
    public double PerSecond => Messages / Elapsed.TotalSeconds;

    public double CpuSecondsPerMillion => Cpu.TotalSeconds / Messages * 1_000_000;

    public double BytesPerMessage => (double)AllocatedBytes / Messages;

    public double? ServerCpuSecondsPerMillion => ServerCpu is { } cpu ? cpu.TotalSeconds / Messages * 1_000_000 : null;
}

/// <summary>Brackets the timed section of a workload; set-up (prefill, connect) and tear-down stay outside.</summary>
internal sealed class Probe(BenchServer server)
{
    private long _start;
    private TimeSpan _cpu;
    private long _allocated;
    private TimeSpan? _serverCpu;
    private Sample? _sample;

    public Sample Sample => _sample ?? throw new InvalidOperationException("The workload never called Stop.");

    public void Start()
    {
        _serverCpu = server.ServerCpuTime;
        _allocated = GC.GetTotalAllocatedBytes(precise: true);
        _cpu = ProcessCpu();
        _start = Stopwatch.GetTimestamp();
    }

    public void Stop(long messages)
    {
        var elapsed = Stopwatch.GetElapsedTime(_start);
        var cpu = ProcessCpu() - _cpu;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - _allocated;
        var serverCpu = server.ServerCpuTime - _serverCpu;
        _sample = new Sample(messages, elapsed, cpu, allocated, serverCpu);
    }

    // getrusage: microseconds, where Process.TotalProcessorTime on Linux counts 10 ms clock ticks.
    private static TimeSpan ProcessCpu() => Environment.CpuUsage.TotalTime;
}
