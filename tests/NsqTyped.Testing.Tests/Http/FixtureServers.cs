using System.Net;
using NsqTyped.Conformance;

namespace NsqTyped.Testing.Tests.Http;

/// <summary>
/// The servers one HTTP fixture needs, started fresh: an <see cref="EmbeddedNsqd"/> configured from
/// <c>server_flags</c> when the fixture ran nsqd, an <see cref="EmbeddedNsqlookupd"/> when it ran one
/// (nsqd then registers with it instead of 127.0.0.1:4160). Listen addresses become free ports, and
/// <see cref="Ports"/> maps the recorded port numbers to the real ones.
/// </summary>
internal sealed class FixtureServers : IAsyncDisposable
{
    private FixtureServers()
    {
    }

    public EmbeddedNsqd? Nsqd { get; private set; }

    public EmbeddedNsqlookupd? Lookupd { get; private set; }

    public FixturePorts Ports { get; } = new();

    public static async Task<FixtureServers> StartAsync(ConformanceFixture fixture, CancellationToken cancellationToken)
    {
        var servers = new FixtureServers();
        try
        {
            if (fixture.Json.TryGetProperty("lookupd", out _) || fixture.LookupdFlags.Count > 0)
            {
                servers.Lookupd = await EmbeddedNsqlookupd.StartAsync(LookupdOptions(fixture), cancellationToken);
                servers.Ports.Map(FixturePorts.LookupdTcp, servers.Lookupd.TcpEndPoint.Port);
                servers.Ports.Map(FixturePorts.LookupdHttp, servers.Lookupd.HttpEndPoint.Port);
            }

            if (fixture.ServerFlags.Count > 0)
            {
                servers.Nsqd = await EmbeddedNsqd.StartAsync(NsqdOptions(fixture, servers.Lookupd), cancellationToken);
                servers.Ports.Map(FixturePorts.NsqdTcp, servers.Nsqd.TcpEndPoint.Port);
                servers.Ports.Map(FixturePorts.NsqdHttp, servers.Nsqd.HttpEndPoint.Port);
                if (servers.Nsqd.HttpsEndPoint is { } https)
                {
                    servers.Ports.Map(FixturePorts.NsqdHttps, https.Port);
                }
            }
        }
        catch
        {
            await servers.DisposeAsync();
            throw;
        }

        return servers;
    }

    /// <summary>The HTTP endpoint of <c>nsqd</c> or <c>nsqlookupd</c> (a step's <c>server</c>).</summary>
    public IPEndPoint? HttpEndPointOf(string server) => server switch
    {
        "nsqd" => Nsqd?.HttpEndPoint,
        "nsqlookupd" => Lookupd?.HttpEndPoint,
        _ => null,
    };

    public async ValueTask DisposeAsync()
    {
        if (Nsqd is not null)
        {
            await Nsqd.DisposeAsync();
        }

        if (Lookupd is not null)
        {
            await Lookupd.DisposeAsync();
        }
    }

    private static EmbeddedNsqlookupdOptions LookupdOptions(ConformanceFixture fixture) => new()
    {
        BroadcastAddress = fixture.LookupdFlag("--broadcast-address"),
    };

    /// <summary>
    /// The fixture's nsqd command line, mapped like the TCP replay does it (free ports, the test
    /// certificate for <c>&lt;tls-dir&gt;</c>), with the lookupd address made the embedded lookupd's.
    /// </summary>
    private static EmbeddedNsqdOptions NsqdOptions(ConformanceFixture fixture, EmbeddedNsqlookupd? lookupd)
    {
        var flags = fixture.ServerFlags.Select(flag => flag.StartsWith("--lookupd-tcp-address=", StringComparison.Ordinal)
            ? "--lookupd-tcp-address=" + (lookupd?.TcpAddress ?? throw new InvalidOperationException("The fixture registers with an nsqlookupd it did not run."))
            : flag).ToList();
        return Tcp.TcpFixtureOptions.FromFlags(flags, authAddress: null);
    }
}
