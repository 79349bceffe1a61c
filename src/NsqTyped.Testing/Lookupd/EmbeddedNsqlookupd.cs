using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqTyped.Testing.Lookupd;

namespace NsqTyped.Testing;

/// <summary>
/// An in-process nsqlookupd: nsqd instances (embedded or real ones started with
/// <c>--lookupd-tcp-address</c>) register their topics and channels over the nsqlookupd TCP protocol,
/// and clients discover them through the HTTP API (<c>/lookup</c>, <c>/topics</c>, <c>/channels</c>,
/// <c>/nodes</c>, <c>/topic/*</c>, <c>/channel/*</c>, <c>/topic/tombstone</c>, <c>/ping</c>, <c>/info</c>,
/// <c>/debug</c>) answered as nsqlookupd v1.3.0 does. Memory only.
/// </summary>
/// <example>
/// <code>
/// await using var lookupd = await EmbeddedNsqlookupd.StartAsync();
/// await using var nsqd = await EmbeddedNsqd.StartAsync(new EmbeddedNsqdOptions
/// {
///     LookupdTcpAddresses = [lookupd.TcpAddress],
/// });
/// // consumers now discover nsqd through lookupd.HttpAddress
/// </code>
/// </example>
public sealed class EmbeddedNsqlookupd : IAsyncDisposable
{
    private LookupdTcpServer? _tcp;
    private LookupdHttpServer? _http;
    private int _disposed;

    private EmbeddedNsqlookupd(EmbeddedNsqlookupdOptions options, string hostname)
    {
        Options = options;
        Hostname = hostname;
        BroadcastAddress = options.BroadcastAddress ?? hostname;
    }

    /// <summary>The options this instance was started with.</summary>
    public EmbeddedNsqlookupdOptions Options { get; }

    /// <summary>Where the TCP (registration) listener accepts nsqd connections.</summary>
    public IPEndPoint TcpEndPoint => _tcp!.EndPoint;

    /// <summary><see cref="TcpEndPoint"/> as <c>host:port</c>, the form nsqd's <c>--lookupd-tcp-address</c> takes.</summary>
    public string TcpAddress => HostPort.Format(TcpEndPoint);

    /// <summary>Where the HTTP API listens.</summary>
    public IPEndPoint HttpEndPoint => _http!.EndPoint;

    /// <summary><see cref="HttpEndPoint"/> as <c>host:port</c>, the form consumers' <c>lookupd_http_addresses</c> take.</summary>
    public string HttpAddress => HostPort.Format(HttpEndPoint);

    /// <summary>The HTTP API's base address, e.g. <c>http://127.0.0.1:41237/</c>.</summary>
    public Uri HttpUri => new("http://" + HttpAddress + "/");

    internal LookupdRegistrationDb Db { get; } = new();

    internal string Hostname { get; }

    internal string BroadcastAddress { get; }

    /// <summary>Binds both listeners (port 0 picks free ports) and starts serving.</summary>
    /// <param name="options">The settings; <see langword="null"/> uses <see cref="EmbeddedNsqlookupdOptions.Default"/>.</param>
    /// <param name="cancellationToken">Cancels the start-up.</param>
    /// <returns>The running server; dispose it to stop it.</returns>
    /// <exception cref="ArgumentException">An address is not <c>host:port</c>, a duration is negative, or the version is empty.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">The TCP address cannot be bound (e.g. the port is taken).</exception>
    /// <exception cref="IOException">The HTTP address cannot be bound.</exception>
    public static async Task<EmbeddedNsqlookupd> StartAsync(EmbeddedNsqlookupdOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= EmbeddedNsqlookupdOptions.Default;
        var tcpEndPoint = HostPort.ResolveListenEndPoint(options.TcpAddress, nameof(options.TcpAddress));
        var httpEndPoint = HostPort.ResolveListenEndPoint(options.HttpAddress, nameof(options.HttpAddress));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.InactiveProducerTimeout, TimeSpan.Zero, nameof(options.InactiveProducerTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.TombstoneLifetime, TimeSpan.Zero, nameof(options.TombstoneLifetime));
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Version, nameof(options.Version));
        ArgumentNullException.ThrowIfNull(options.TimeProvider, nameof(options.TimeProvider));

        var loggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        var logger = loggerFactory.CreateLogger("NsqTyped.Testing.Nsqlookupd");
        var lookupd = new EmbeddedNsqlookupd(options, Dns.GetHostName());
        try
        {
            // Bind TCP first and accept only once HTTP is up: the IDENTIFY response reports both ports.
            lookupd._tcp = new LookupdTcpServer(lookupd, tcpEndPoint, logger);
            var api = new LookupdHttpApi(lookupd, logger);
            lookupd._http = await LookupdHttpServer.StartAsync(httpEndPoint, api.HandleAsync, loggerFactory, cancellationToken).ConfigureAwait(false);
            lookupd._tcp.Start();
        }
        catch
        {
            await lookupd.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        LookupdLog.Listening(logger, lookupd.TcpAddress, lookupd.HttpAddress);
        return lookupd;
    }

    /// <summary>
    /// Waits until <c>/lookup</c> would list exactly <paramref name="producerCount"/> active producers for
    /// <paramref name="topic"/>: registration travels asynchronously from nsqd, so tests wait for it
    /// instead of sleeping.
    /// </summary>
    /// <param name="topic">The topic.</param>
    /// <param name="producerCount">The number of producers to wait for (0 waits for them to leave).</param>
    /// <param name="timeout">How long to wait; default 10 s.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="TimeoutException">The count was not reached in time; the message says what was seen.</exception>
    /// <example>
    /// <code>
    /// await lookupd.WaitForProducersAsync("orders", producerCount: 2);
    /// </code>
    /// </example>
    public async Task WaitForProducersAsync(string topic, int producerCount, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentOutOfRangeException.ThrowIfNegative(producerCount);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var producers = LookupdRegistrationDb.FilterByActive(
                Db.FindProducers(LookupdRegistration.TopicCategory, topic, string.Empty),
                Options.InactiveProducerTimeout,
                Options.TombstoneLifetime,
                Options.TimeProvider.GetUtcNow());
            if (producers.Count == producerCount)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"lookupd lists {producers.Count} producers of '{topic}', not {producerCount}.");
            }

            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops both listeners and closes every connection; registrations are discarded.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_tcp is not null)
        {
            await _tcp.DisposeAsync().ConfigureAwait(false);
        }

        if (_http is not null)
        {
            await _http.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"nsqlookupd tcp={TcpAddress} http={HttpAddress}");
}
