using System.Diagnostics;
using NsqTyped.Testing;

namespace NsqTyped.Benchmarks.Throughput;

/// <summary>Where the throughput and soak modes send their traffic.</summary>
internal enum BenchServerKind
{
    /// <summary>The embedded nsqd, started inside this process (its CPU and allocations count as the client's).</summary>
    InProcess,

    /// <summary>The embedded nsqd run as a child process (samples/EmbeddedServer), so the client's CPU is measured alone.</summary>
    ChildProcess,

    /// <summary>A real nsqd named by <c>NSQD_TCP_ADDRESS</c> (and <c>NSQD_HTTP_ADDRESS</c>, default port + 1).</summary>
    External,
}

/// <summary>
/// The nsqd a run talks to: <c>NSQD_TCP_ADDRESS</c> when set, otherwise the embedded server, in this
/// process or in a child process.
/// </summary>
internal sealed class BenchServer : IAsyncDisposable
{
    private readonly EmbeddedNsqd? _embedded;
    private readonly Process? _child;

    private BenchServer(BenchServerKind kind, string tcpAddress, string httpAddress, string description, EmbeddedNsqd? embedded, Process? child)
    {
        Kind = kind;
        TcpAddress = tcpAddress;
        HttpAddress = httpAddress;
        Description = description;
        _embedded = embedded;
        _child = child;
    }

    public BenchServerKind Kind { get; }

    /// <summary>nsqd's TCP address, <c>host:port</c>.</summary>
    public string TcpAddress { get; }

    /// <summary>nsqd's HTTP address, <c>host:port</c>.</summary>
    public string HttpAddress { get; }

    /// <summary>One line for the report: which server, and what the CPU column includes.</summary>
    public string Description { get; }

    /// <summary>CPU time of the server when it is a child process, otherwise <see langword="null"/>.</summary>
    public TimeSpan? ServerCpuTime
    {
        get
        {
            if (_child is null)
            {
                return null;
            }

            _child.Refresh();
            return _child.TotalProcessorTime;
        }
    }

    /// <summary>Starts (or finds) the server: the environment wins over <paramref name="embeddedKind"/>.</summary>
    public static async Task<BenchServer> StartAsync(BenchServerKind embeddedKind, CancellationToken cancellationToken)
    {
        var tcp = Environment.GetEnvironmentVariable("NSQD_TCP_ADDRESS");
        if (!string.IsNullOrWhiteSpace(tcp))
        {
            tcp = tcp.Trim();
            var http = Environment.GetEnvironmentVariable("NSQD_HTTP_ADDRESS");
            http = string.IsNullOrWhiteSpace(http) ? DefaultHttpFor(tcp) : StripScheme(http.Trim());
            return new BenchServer(BenchServerKind.External, tcp, http, $"nsqd at {tcp} (NSQD_TCP_ADDRESS); CPU and allocations are the client's alone", null, null);
        }

        if (embeddedKind == BenchServerKind.InProcess)
        {
            var nsqd = await EmbeddedNsqd.StartAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return new BenchServer(BenchServerKind.InProcess, nsqd.TcpAddress, nsqd.HttpAddress,
                $"embedded nsqd in this process at {nsqd.TcpAddress}; CPU, allocations, heap, handles and threads INCLUDE the server's", nsqd, null);
        }

        return await StartChildAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_embedded is not null)
        {
            await _embedded.DisposeAsync().ConfigureAwait(false);
        }

        if (_child is not null)
        {
            if (!_child.HasExited)
            {
                // EmbeddedServer stops cleanly on SIGTERM; Kill is the fallback.
                try
                {
                    Process.Start("kill", ["-TERM", _child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.WaitForExit();
                    using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await _child.WaitForExitAsync(wait.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or System.ComponentModel.Win32Exception or InvalidOperationException)
                {
                    _child.Kill(entireProcessTree: true);
                }
            }

            _child.Dispose();
        }
    }

    private static async Task<BenchServer> StartChildAsync(CancellationToken cancellationToken)
    {
        var root = RepositoryRoot();
        var project = Path.Combine(root, "samples", "EmbeddedServer", "EmbeddedServer.csproj");
        var output = Path.Combine(root, "samples", "EmbeddedServer", "bin", "Release", "net10.0");

        // Build it in Release first, so that the process started is the server itself (its CPU is measurable).
        Console.WriteLine("building samples/EmbeddedServer (Release) to run the embedded nsqd as a child process...");
        using (var build = Process.Start(new ProcessStartInfo("dotnet", ["build", project, "-c", "Release", "--nologo", "-v", "q", "-o", output])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!)
        {
            var buildOutput = build.StandardOutput.ReadToEndAsync(cancellationToken);
            var buildErrors = build.StandardError.ReadToEndAsync(cancellationToken);
            await build.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (build.ExitCode != 0)
            {
                throw new InvalidOperationException($"Building {project} failed:\n{await buildOutput.ConfigureAwait(false)}{await buildErrors.ConfigureAwait(false)}");
            }
        }

        var child = Process.Start(new ProcessStartInfo("dotnet", [Path.Combine(output, "EmbeddedServer.dll"), "--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0", "--log-level=warn"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = false,
        })!;
        try
        {
            string? tcp = null;
            string? http = null;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            while (await child.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false) is { } line)
            {
                // "nsqd listening: tcp=127.0.0.1:PORT http=127.0.0.1:PORT"
                foreach (var part in line.Split(' '))
                {
                    if (part.StartsWith("tcp=", StringComparison.Ordinal))
                    {
                        tcp = part[4..];
                    }
                    else if (part.StartsWith("http=", StringComparison.Ordinal))
                    {
                        http = part[5..];
                    }
                }

                if (line == "ready")
                {
                    break;
                }
            }

            if (tcp is null || http is null)
            {
                throw new InvalidOperationException("samples/EmbeddedServer did not print its addresses.");
            }

            // Keep draining stdout so the child never blocks on a full pipe.
            _ = child.StandardOutput.ReadToEndAsync(CancellationToken.None);
            return new BenchServer(BenchServerKind.ChildProcess, tcp, http,
                $"embedded nsqd in a child process (pid {child.Id}) at {tcp}; CPU and allocations are the client's alone", null, child);
        }
        catch
        {
            child.Kill(entireProcessTree: true);
            child.Dispose();
            throw;
        }
    }

    /// <summary>The folder holding NsqTyped.sln, found upwards from the tool's binaries or the working directory.</summary>
    private static string RepositoryRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "NsqTyped.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException("NsqTyped.sln not found above the tool or the working directory; use --server inproc.");
    }

    private static string DefaultHttpFor(string tcp)
    {
        var colon = tcp.LastIndexOf(':');
        var port = int.Parse(tcp[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        return $"{tcp[..colon]}:{port + 1}";
    }

    private static string StripScheme(string address) =>
        address.Replace("http://", "", StringComparison.OrdinalIgnoreCase).TrimEnd('/');
}
