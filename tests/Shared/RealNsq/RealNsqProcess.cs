using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace NsqTyped.Tests.Support;

/// <summary>
/// A real nsqd or nsqlookupd process started with the given flags. Its listen addresses are read from
/// its log ("TCP: listening on ..."), so flags with port 0 work; nsqd gets its own data directory,
/// removed when the process is stopped. Stopping sends SIGTERM (nsqd's graceful exit) and kills the
/// process if it has not exited after a few seconds. Processes still running when the test process exits
/// are killed then.
/// </summary>
internal sealed partial class RealNsqProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(10);
    private static readonly ConcurrentDictionary<RealNsqProcess, byte> s_running = new();

    private readonly Process _process;
    private readonly string? _dataDirectory;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly TaskCompletionSource<string> _tcp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _http = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _https = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stopped;

    static RealNsqProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var process in s_running.Keys)
        {
            process.KillNow();
        }
    };

    private RealNsqProcess(Process process, string? dataDirectory)
    {
        _process = process;
        _dataDirectory = dataDirectory;
    }

    /// <summary>The TCP address the process listens on (<c>127.0.0.1:port</c>).</summary>
    public string TcpAddress => _tcp.Task.Result;

    /// <summary>The HTTP address the process listens on (<c>127.0.0.1:port</c>).</summary>
    public string HttpAddress => _http.Task.Result;

    /// <summary>The HTTPS address (<c>127.0.0.1:port</c>) when nsqd serves HTTPS (flags with a certificate and an HTTPS address), else null.</summary>
    public string? HttpsAddress => _https.Task.IsCompletedSuccessfully ? _https.Task.Result : null;

    /// <summary>What the process has logged so far (for failure messages).</summary>
    public string Log => string.Join(Environment.NewLine, _log);

    /// <summary>
    /// Starts <paramref name="program"/> with <paramref name="flags"/> and waits until it listens on TCP
    /// and HTTP. With <paramref name="withDataDirectory"/>, a fresh temporary <c>--data-path</c> is added.
    /// </summary>
    /// <exception cref="InvalidOperationException">The process exited or did not listen in time; the message carries its log.</exception>
    public static async Task<RealNsqProcess> StartAsync(string program, IEnumerable<string> flags, bool withDataDirectory, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var flag in flags)
        {
            info.ArgumentList.Add(flag);
        }

        var dataDirectory = withDataDirectory ? System.IO.Directory.CreateTempSubdirectory("nsqtyped-nsqd-").FullName : null;
        if (dataDirectory is not null)
        {
            info.ArgumentList.Add("--data-path=" + dataDirectory);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var started = new RealNsqProcess(process, dataDirectory);
        process.ErrorDataReceived += (_, e) => started.OnLine(e.Data);
        process.OutputDataReceived += (_, e) => started.OnLine(e.Data);
        try
        {
            process.Start();
            s_running.TryAdd(started, 0);
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            var https = info.ArgumentList.Any(f => f.StartsWith("--tls-cert", StringComparison.Ordinal)) && info.ArgumentList.Any(f => f.StartsWith("--https-address", StringComparison.Ordinal));
            var listening = https ? Task.WhenAll(started._tcp.Task, started._http.Task, started._https.Task) : Task.WhenAll(started._tcp.Task, started._http.Task);
            var first = await Task.WhenAny(listening, process.WaitForExitAsync(cancellationToken)).WaitAsync(StartLimit, cancellationToken);
            if (first != listening)
            {
                throw new InvalidOperationException($"{Path.GetFileName(program)} exited with {process.ExitCode} before it listened:{Environment.NewLine}{started.Log}");
            }

            return started;
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            await started.DisposeAsync();
            if (ex is TimeoutException)
            {
                throw new InvalidOperationException($"{Path.GetFileName(program)} did not listen within {StartLimit.TotalSeconds} s:{Environment.NewLine}{started.Log}", ex);
            }

            throw;
        }
    }

    /// <summary>Stops the process (SIGTERM, then SIGKILL after a grace period) and removes its data directory. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        try
        {
            if (!HasExited())
            {
                _ = Kill(_process.Id, SigTerm);
                using var grace = new CancellationTokenSource(StopLimit);
                try
                {
                    await _process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    KillNow();
                    await _process.WaitForExitAsync(CancellationToken.None);
                }
            }
        }
        finally
        {
            s_running.TryRemove(this, out _);
            _process.Dispose();
            if (_dataDirectory is not null)
            {
                try
                {
                    System.IO.Directory.Delete(_dataDirectory, recursive: true);
                }
                catch (IOException)
                {
                    // A leftover temporary directory is harmless.
                }
            }
        }
    }

    private const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private bool HasExited()
    {
        try
        {
            return _process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true; // never started
        }
    }

    private void KillNow()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        _log.Enqueue(line);
        while (_log.Count > 400 && _log.TryDequeue(out _))
        {
        }

        var match = ListeningLine().Match(line);
        if (match.Success)
        {
            (match.Groups[1].Value switch { "TCP" => _tcp, "HTTP" => _http, _ => _https }).TrySetResult(match.Groups[2].Value);
        }
    }

    [GeneratedRegex(@"\b(TCP|HTTPS|HTTP): listening on (\S+)$", RegexOptions.CultureInvariant)]
    private static partial Regex ListeningLine();
}
