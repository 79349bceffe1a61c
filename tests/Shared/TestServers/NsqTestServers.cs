using System.Diagnostics;
using NsqTyped.Testing;
using NsqTyped.Tests.Support;

[assembly: AssemblyFixture(typeof(NsqTestServers))]

namespace NsqTyped.Tests.Support;

/// <summary>
/// The NSQ servers every integration test of this assembly talks to: real servers when
/// <c>NSQD_TCP_ADDRESS</c>, <c>NSQD_HTTP_ADDRESS</c> and <c>NSQLOOKUPD_HTTP_ADDRESS</c> are set,
/// otherwise one embedded nsqd started on 127.0.0.1 with ephemeral ports for the whole test run.
/// Take it as a constructor parameter of a test class (xunit v3 assembly fixture).
/// </summary>
/// <remarks>
/// Tests that need a server of their own (stopped, restarted, or started with special flags) start it
/// with <see cref="StartNsqdAsync"/> / <see cref="StartClusterAsync"/>: a real process when the run uses
/// real servers, an embedded one otherwise. Tests that need the embedded server's in-process hooks call
/// <see cref="SkipIfExternal"/> first, so the same test assembly runs unchanged against real servers.
/// </remarks>
public sealed class NsqTestServers : IAsyncLifetime
{
    /// <summary>Environment variable naming a real nsqd's TCP address (<c>host:port</c>).</summary>
    public const string NsqdTcpAddressVariable = "NSQD_TCP_ADDRESS";

    /// <summary>Environment variable naming a real nsqd's HTTP address (<c>host:port</c> or <c>http://host:port</c>).</summary>
    public const string NsqdHttpAddressVariable = "NSQD_HTTP_ADDRESS";

    /// <summary>Environment variable naming a real nsqlookupd's HTTP address (<c>host:port</c> or <c>http://host:port</c>).</summary>
    public const string LookupdHttpAddressVariable = "NSQLOOKUPD_HTTP_ADDRESS";

    private static int s_topicCounter;

    private EmbeddedNsqd? _embedded;
    private EmbeddedNsqlookupd? _embeddedLookupd;

    /// <summary>Whether the servers come from the environment (real nsqd/nsqlookupd) rather than the embedded server.</summary>
    public bool IsExternal { get; private set; }

    /// <summary>nsqd's TCP address as <c>host:port</c>.</summary>
    public string NsqdTcpAddress { get; private set; } = "";

    /// <summary>nsqd's HTTP base address, e.g. <c>http://127.0.0.1:4151/</c>.</summary>
    public Uri NsqdHttpAddress { get; private set; } = new("http://127.0.0.1/");

    /// <summary>nsqlookupd's HTTP base address; <see langword="null"/> when no lookupd is available.</summary>
    public Uri? LookupdHttpAddress { get; private set; }

    /// <summary>The embedded nsqd, or <see langword="null"/> when <see cref="IsExternal"/>.</summary>
    public EmbeddedNsqd? Embedded => _embedded;

    /// <summary>The embedded nsqlookupd the embedded nsqd registers with, or <see langword="null"/> when <see cref="IsExternal"/>.</summary>
    public EmbeddedNsqlookupd? EmbeddedLookupd => _embeddedLookupd;

    /// <summary>The embedded nsqd; skips the calling test when running against real servers.</summary>
    public EmbeddedNsqd EmbeddedOrSkip(string reason)
    {
        SkipIfExternal(reason);
        return _embedded!;
    }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        var tcp = Environment.GetEnvironmentVariable(NsqdTcpAddressVariable);
        var http = Environment.GetEnvironmentVariable(NsqdHttpAddressVariable);
        var lookupd = Environment.GetEnvironmentVariable(LookupdHttpAddressVariable);
        if (!string.IsNullOrWhiteSpace(tcp))
        {
            IsExternal = true;
            NsqdTcpAddress = tcp.Trim();
            NsqdHttpAddress = ToHttpUri(string.IsNullOrWhiteSpace(http) ? DefaultHttpFor(NsqdTcpAddress) : http);
            LookupdHttpAddress = string.IsNullOrWhiteSpace(lookupd) ? null : ToHttpUri(lookupd);
            return;
        }

        _embeddedLookupd = await EmbeddedNsqlookupd.StartAsync(new EmbeddedNsqlookupdOptions());
        LookupdHttpAddress = _embeddedLookupd.HttpUri;
        _embedded = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions { LookupdTcpAddresses = [_embeddedLookupd.TcpAddress] });
        NsqdTcpAddress = _embedded.TcpAddress;
        NsqdHttpAddress = ToHttpUri(_embedded.HttpAddress);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_embedded is not null)
        {
            await _embedded.DisposeAsync();
        }

        if (_embeddedLookupd is not null)
        {
            await _embeddedLookupd.DisposeAsync();
        }
    }

    /// <summary>nsqlookupd's HTTP address; skips the calling test when real servers are configured without <c>NSQLOOKUPD_HTTP_ADDRESS</c>.</summary>
    public Uri LookupdHttpAddressOrSkip()
    {
        Assert.SkipWhen(LookupdHttpAddress is null, $"Needs nsqlookupd: set {LookupdHttpAddressVariable} next to {NsqdTcpAddressVariable}.");
        return LookupdHttpAddress!;
    }

    /// <summary>
    /// Starts an nsqd of the test's own with nsqd command-line <paramref name="flags"/> (e.g. <c>--max-msg-size=100</c>,
    /// <c>--tls-cert=...</c>, <c>--auth-http-address=...</c>): a real nsqd process from <see cref="RealNsqBinaries"/>
    /// when the run uses real servers (<c>NSQD_TCP_ADDRESS</c> set), otherwise an embedded nsqd built from the same
    /// flags (<see cref="EmbeddedNsqdFlags"/>). It listens on free 127.0.0.1 ports unless the flags name its
    /// addresses; a real nsqd gets a temporary data directory. Skips the test when real servers are configured
    /// but no binaries are found. Dispose the result to stop it.
    /// </summary>
    public async Task<TestNsqServer> StartNsqdAsync(IReadOnlyList<string>? flags = null, CancellationToken cancellationToken = default)
    {
        flags ??= [];
        List<string> all = ["--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0", "--broadcast-address=127.0.0.1"];
        if (flags.Any(f => f.StartsWith("--tls-cert", StringComparison.Ordinal)))
        {
            // nsqd serves HTTPS once it has a certificate; keep that listener on loopback too.
            all.Add("--https-address=127.0.0.1:0");
        }

        all.AddRange(flags);
        if (IsExternal)
        {
            var process = await RealNsqProcess.StartAsync(RealBinaryOrSkip("nsqd"), all, withDataDirectory: true, cancellationToken);
            return TestNsqServer.Of(process);
        }

        return TestNsqServer.Of(await EmbeddedNsqd.StartAsync(EmbeddedNsqdFlags.Parse(all), cancellationToken));
    }

    /// <summary>
    /// Starts an nsqlookupd of the test's own with nsqlookupd <paramref name="flags"/>, on free 127.0.0.1 ports
    /// unless the flags name its addresses: real or embedded as <see cref="StartNsqdAsync"/>.
    /// </summary>
    public async Task<TestNsqServer> StartLookupdAsync(IReadOnlyList<string>? flags = null, CancellationToken cancellationToken = default)
    {
        string[] all = ["--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0", "--broadcast-address=127.0.0.1", .. flags ?? []];
        if (IsExternal)
        {
            var process = await RealNsqProcess.StartAsync(RealBinaryOrSkip("nsqlookupd"), all, withDataDirectory: false, cancellationToken);
            return TestNsqServer.Of(process);
        }

        return TestNsqServer.Of(await EmbeddedNsqlookupd.StartAsync(EmbeddedNsqlookupdFlags.Parse(all), cancellationToken));
    }

    /// <summary>
    /// Starts an nsqlookupd and <paramref name="nsqdCount"/> nsqd registered with it, each nsqd with
    /// <paramref name="nsqdFlags"/>: real processes or embedded servers as <see cref="StartNsqdAsync"/>.
    /// </summary>
    public Task<TestNsqCluster> StartClusterAsync(int nsqdCount, IReadOnlyList<string>? nsqdFlags = null, CancellationToken cancellationToken = default) =>
        TestNsqCluster.StartAsync(this, nsqdCount, nsqdFlags ?? [], cancellationToken);

    private static string RealBinaryOrSkip(string name)
    {
        var directory = RealNsqBinaries.Directory;
        Assert.SkipWhen(
            directory is null,
            $"Starts its own {name}: real servers are configured through {NsqdTcpAddressVariable}, but no nsqd/nsqlookupd binaries were found "
            + $"(set {RealNsqBinaries.DirectoryVariable} to their folder, or put them in ../shared/realnsq beside the repository).");
        return Path.Combine(directory!, name);
    }

    /// <summary>Skips the calling test (xunit v3 dynamic skip) when running against real servers.</summary>
    /// <param name="reason">Why the test needs the embedded server, e.g. "stops the server".</param>
    public void SkipIfExternal(string reason) =>
        Assert.SkipWhen(IsExternal, $"Needs the embedded server ({reason}); real servers are configured through {NsqdTcpAddressVariable}.");

    /// <summary>A topic name nobody else uses in this test run (valid, at most 64 characters).</summary>
    /// <param name="prefix">A readable prefix (letters, digits, '.', '_' or '-').</param>
    public static string UniqueTopic(string prefix = "t")
    {
        var n = Interlocked.Increment(ref s_topicCounter);
        var name = $"{prefix}.{n}.{Guid.NewGuid():N}";
        return name.Length <= 64 ? name : name[..64];
    }

    /// <summary>
    /// A <c>127.0.0.1:port</c> where nothing listens: the port was just free and is released again, so
    /// connecting to it is refused. For tests of unreachable servers.
    /// </summary>
    public static string UnusedTcpAddress()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }

    /// <summary>A channel name nobody else uses in this test run.</summary>
    public static string UniqueChannel(string prefix = "c") => UniqueTopic(prefix);

    /// <summary>Waits until <paramref name="condition"/> holds, failing the test after <paramref name="timeout"/>.</summary>
    public static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string? because = null) =>
        WaitUntilAsync(() => ValueTask.FromResult(condition()), timeout, because);

    /// <summary>Waits until the asynchronous <paramref name="condition"/> holds, failing the test after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<ValueTask<bool>> condition, TimeSpan timeout, string? because = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (clock.Elapsed >= timeout)
            {
                Assert.Fail($"Condition not met within {timeout.TotalMilliseconds:0} ms{(because is null ? "" : ": " + because)}.");
            }

            // Polling back-off for a condition that has no event to await; bounded by the timeout above.
            await Task.Delay(pause, TestContext.Current.CancellationToken);
            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 50));
        }
    }

    private static string DefaultHttpFor(string tcpAddress)
    {
        var colon = tcpAddress.LastIndexOf(':');
        return (colon < 0 ? tcpAddress : tcpAddress[..colon]) + ":4151";
    }

    internal static Uri ToHttpUri(string address)
    {
        var text = address.Trim();
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = "http://" + text;
        }

        return new Uri(text.EndsWith('/') ? text : text + "/");
    }
}
