using NsqTyped.Testing;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Lookup;

/// <summary>
/// An nsqd registered with an nsqlookupd: the real pair named by <c>NSQD_HTTP_ADDRESS</c> and
/// <c>NSQLOOKUPD_HTTP_ADDRESS</c> (the nsqd must run with <c>--lookupd-tcp-address</c> of that lookupd), or an
/// <see cref="EmbeddedNsqCluster"/> of one nsqd when <c>NSQD_TCP_ADDRESS</c> is not set.
/// </summary>
public sealed class LookupdTestEnvironment : IAsyncLifetime
{
    private EmbeddedNsqCluster? _cluster;

    /// <summary>nsqd's HTTP base address.</summary>
    public Uri NsqdHttpAddress { get; private set; } = new("http://127.0.0.1/");

    /// <summary>nsqlookupd's HTTP base address, or null when real servers are configured without one.</summary>
    public Uri? LookupdHttpAddress { get; private set; }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(NsqTestServers.NsqdTcpAddressVariable)))
        {
            // The assembly fixture resolves the real servers' addresses the same way.
            var servers = new NsqTestServers();
            await servers.InitializeAsync();
            NsqdHttpAddress = servers.NsqdHttpAddress;
            LookupdHttpAddress = servers.LookupdHttpAddress;
            return;
        }

        _cluster = await EmbeddedNsqCluster.StartAsync(nsqdCount: 1);
        NsqdHttpAddress = NsqTestServers.ToHttpUri(_cluster.NsqdHttpAddresses[0]);
        LookupdHttpAddress = NsqTestServers.ToHttpUri(_cluster.LookupdHttpAddress);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}
