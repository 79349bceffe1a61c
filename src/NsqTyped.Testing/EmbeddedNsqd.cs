using System.Globalization;
using System.Net;
using NsqTyped.Testing.Lookupd;
using NsqTyped.Testing.Nsqd.Broker;
using NsqTyped.Testing.Nsqd.Http;
using NsqTyped.Testing.Nsqd.Tcp;

namespace NsqTyped.Testing;

/// <summary>
/// An in-process, memory-only server that speaks nsqd v1.3.0's TCP protocol V2 (and its HTTP API),
/// for tests, samples and local development without installing nsqd.
/// </summary>
/// <example>
/// <code>
/// await using var nsqd = await EmbeddedNsqd.StartAsync();
/// // connect any NSQ client to nsqd.TcpAddress
/// </code>
/// </example>
public sealed class EmbeddedNsqd : IAsyncDisposable
{
    private readonly NsqdTcpListener _tcp;
    private readonly NsqdHttpServer _http;
    private LookupdRegistrar? _lookupdRegistrar;
    private int _disposed;

    private EmbeddedNsqd(EmbeddedNsqdOptions options, NsqdBroker broker, NsqdTcpListener tcp, NsqdHttpServer http, NsqdRuntimeConfig runtimeConfig)
    {
        Options = options;
        Broker = broker;
        _tcp = tcp;
        _http = http;
        RuntimeConfig = runtimeConfig;
    }

    /// <summary>The options the server runs with.</summary>
    public EmbeddedNsqdOptions Options { get; }

    /// <summary>Where the TCP protocol listens (the real port when port 0 was asked for).</summary>
    public IPEndPoint TcpEndPoint => _tcp.EndPoint;

    /// <summary>The TCP address as <c>host:port</c>, e.g. <c>127.0.0.1:41234</c>.</summary>
    public string TcpAddress => FormatAddress(TcpEndPoint);

    /// <summary>Where the HTTP API listens (the real port when port 0 was asked for).</summary>
    public IPEndPoint HttpEndPoint => _http.HttpEndPoint;

    /// <summary>The HTTP address as <c>host:port</c>, e.g. <c>127.0.0.1:41235</c>.</summary>
    public string HttpAddress => FormatAddress(HttpEndPoint);

    /// <summary>Where the HTTPS API listens; <see langword="null"/> unless both <see cref="EmbeddedNsqdOptions.TlsCertificate"/> and <see cref="EmbeddedNsqdOptions.HttpsAddress"/> are set.</summary>
    public IPEndPoint? HttpsEndPoint => _http.HttpsEndPoint;

    /// <summary>The HTTPS address as <c>host:port</c>, or <see langword="null"/> when there is no HTTPS listener.</summary>
    public string? HttpsAddress => HttpsEndPoint is { } https ? FormatAddress(https) : null;

    internal NsqdBroker Broker { get; }

    /// <summary>Options changeable at run time (<c>PUT /config/...</c>), e.g. the lookupd addresses to register with.</summary>
    internal NsqdRuntimeConfig RuntimeConfig { get; }

    /// <summary>Starts a server; port 0 in an address picks a free port.</summary>
    /// <exception cref="ArgumentException">An address in <paramref name="options"/> cannot be parsed.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">A port is already in use.</exception>
    public static async Task<EmbeddedNsqd> StartAsync(EmbeddedNsqdOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= EmbeddedNsqdOptions.Default;
        cancellationToken.ThrowIfCancellationRequested();
        Validate(options);
        var tcpEndPoint = ParseEndPoint(options.TcpAddress, nameof(options.TcpAddress));
        var broker = new NsqdBroker(options);
        NsqdTcpListener? tcp = null;
        NsqdHttpServer? http = null;
        try
        {
            tcp = new NsqdTcpListener(broker, tcpEndPoint);
            broker.TcpEndPoint = tcp.EndPoint;
            var runtimeConfig = new NsqdRuntimeConfig(options.LookupdTcpAddresses);
            http = await NsqdHttpServer.StartAsync(broker, runtimeConfig, cancellationToken).ConfigureAwait(false);
            broker.Start();
            tcp.Start();
            return new EmbeddedNsqd(options, broker, tcp, http, runtimeConfig) { _lookupdRegistrar = LookupdRegistrar.Attach(broker, runtimeConfig) };
        }
        catch
        {
            if (http is not null)
            {
                await http.DisposeAsync().ConfigureAwait(false);
            }

            if (tcp is not null)
            {
                await tcp.DisposeAsync().ConfigureAwait(false);
            }

            await broker.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Closes the listeners and every client connection; messages are discarded.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_lookupdRegistrar is not null)
        {
            await _lookupdRegistrar.DisposeAsync().ConfigureAwait(false);
        }

        await _http.DisposeAsync().ConfigureAwait(false);
        await _tcp.DisposeAsync().ConfigureAwait(false);
        await Broker.DisposeAsync().ConfigureAwait(false);
    }

    private static void Validate(EmbeddedNsqdOptions options)
    {
        LookupdRegistrar.ValidateAddresses(options.LookupdTcpAddresses, nameof(options));
        if (options.MaxDeflateLevel is < 1 or > 9)
        {
            throw new ArgumentException("MaxDeflateLevel must be 1..9 (nsqd --max-deflate-level).", nameof(options));
        }

        if (options.TlsClientAuthPolicy != NsqdTlsClientAuthPolicy.None && options.TlsCertificate is null)
        {
            throw new ArgumentException("A TLS client auth policy needs TlsCertificate.", nameof(options));
        }

        if (options.TlsRequired != NsqdTlsRequirement.NotRequired && options.TlsCertificate is null)
        {
            throw new ArgumentException("TlsRequired needs TlsCertificate.", nameof(options));
        }
    }

    /// <summary>Parses nsqd's <c>host:port</c> form (empty host = all interfaces, <c>localhost</c> = loopback).</summary>
    internal static IPEndPoint ParseEndPoint(string address, string name)
    {
        ArgumentNullException.ThrowIfNull(address, name);
        var colon = address.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new ArgumentException($"'{address}' is not a host:port address.", name);
        }

        var host = address[..colon].Trim('[', ']');
        IPAddress ip;
        if (host.Length == 0)
        {
            ip = IPAddress.Any;
        }
        else if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            ip = IPAddress.Loopback;
        }
        else if (!IPAddress.TryParse(host, out ip!))
        {
            throw new ArgumentException($"'{address}' does not name an IP address.", name);
        }

        return new IPEndPoint(ip, port);
    }

    internal static string FormatAddress(IPEndPoint endPoint) =>
        endPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"[{endPoint.Address}]:{endPoint.Port}"
            : $"{endPoint.Address}:{endPoint.Port}";
}
