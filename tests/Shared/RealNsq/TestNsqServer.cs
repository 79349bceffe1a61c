using System.Net;
using NsqTyped.Testing;

namespace NsqTyped.Tests.Support;

/// <summary>
/// An nsqd or nsqlookupd a test started for itself (e.g. through <c>NsqTestServers.StartNsqdAsync</c>): a real
/// process (<see cref="RealNsqBinaries"/>) when the run uses real servers, an embedded one otherwise.
/// Disposing stops it.
/// </summary>
public sealed class TestNsqServer : IAsyncDisposable
{
    private readonly IAsyncDisposable _server;

    private TestNsqServer(IAsyncDisposable server, string tcpAddress, string httpAddress, string? httpsAddress = null)
    {
        _server = server;
        TcpAddress = tcpAddress;
        HttpAddress = httpAddress;
        HttpsAddress = httpsAddress;
    }

    /// <summary>The TCP address, <c>127.0.0.1:port</c>.</summary>
    public string TcpAddress { get; }

    /// <summary>The HTTP address, <c>127.0.0.1:port</c>.</summary>
    public string HttpAddress { get; }

    /// <summary>The HTTPS address, <c>127.0.0.1:port</c>, of an nsqd started with a TLS certificate; otherwise null.</summary>
    public string? HttpsAddress { get; }

    /// <summary>The TCP address as an end point.</summary>
    public IPEndPoint TcpEndPoint => IPEndPoint.Parse(TcpAddress);

    /// <summary>Whether this is a real nsqd/nsqlookupd process rather than an embedded server.</summary>
    public bool IsReal => _server is RealNsqProcess;

    /// <summary>What a real process logged so far (empty for an embedded server), for failure messages.</summary>
    public string Log => _server is RealNsqProcess real ? real.Log : "";

    internal static TestNsqServer Of(RealNsqProcess process) => new(process, process.TcpAddress, process.HttpAddress, process.HttpsAddress);

    internal static TestNsqServer Of(EmbeddedNsqd nsqd) => new(nsqd, nsqd.TcpAddress, nsqd.HttpAddress, nsqd.HttpsAddress);

    internal static TestNsqServer Of(EmbeddedNsqlookupd lookupd) => new(lookupd, lookupd.TcpAddress, lookupd.HttpAddress);

    /// <summary>Stops the server (a real nsqd exits gracefully: it closes its clients and leaves nsqlookupd). Idempotent.</summary>
    public ValueTask DisposeAsync() => _server.DisposeAsync();

    /// <inheritdoc />
    public override string ToString() => $"{(IsReal ? "real" : "embedded")} {TcpAddress} (http {HttpAddress})";
}
