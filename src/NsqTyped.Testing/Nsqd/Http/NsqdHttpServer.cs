using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NsqTyped.Testing.Lookupd;
using NsqTyped.Testing.Nsqd.Broker;

namespace NsqTyped.Testing.Nsqd.Http;

/// <summary>Listener settings of <see cref="NsqdHttpServer"/>.</summary>
internal sealed record NsqdHttpServerOptions
{
    /// <summary>Plain HTTP endpoint (port 0 = a free port).</summary>
    public required IPEndPoint HttpEndPoint { get; init; }

    /// <summary>HTTPS endpoint; only used together with <see cref="Certificate"/>.</summary>
    public IPEndPoint? HttpsEndPoint { get; init; }

    /// <summary>Server certificate (with private key) for the HTTPS listener.</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>Whether the HTTPS listener asks for / requires a client certificate.</summary>
    public ClientCertificateMode ClientCertificateMode { get; init; } = ClientCertificateMode.NoCertificate;

    /// <summary>Custom client-certificate check (e.g. against the configured root CA); null = platform validation.</summary>
    public Func<X509Certificate2, X509Chain?, SslPolicyErrors, bool>? ClientCertificateValidation { get; init; }

    /// <summary>
    /// nsqd's <c>--tls-required=true</c> (not <c>tcp-https</c>): every request on the plain listener gets
    /// 403 <c>{"message": "TLS_REQUIRED", "https_port": N}</c>.
    /// </summary>
    public bool TlsRequiredForHttp { get; init; }
}

/// <summary>
/// The nsqd HTTP(S) listener: a bare <see cref="KestrelServer"/> driving one <see cref="RequestDelegate"/>
/// over <see cref="NsqdHttpRouter"/>. No Server header, HTTP/1.1 only (as Go serves nsqd), exact
/// Content-Length on every answer, Go's reason phrases, and no reflection anywhere (AOT safe).
/// </summary>
internal sealed class NsqdHttpServer : IAsyncDisposable
{
    private readonly KestrelServer _server;
    private readonly ServiceProvider _services;
    private int _disposed;

    private NsqdHttpServer(KestrelServer server, ServiceProvider services, IPEndPoint http, IPEndPoint? https)
    {
        _server = server;
        _services = services;
        HttpEndPoint = http;
        HttpsEndPoint = https;
    }

    /// <summary>The bound plain HTTP endpoint.</summary>
    public IPEndPoint HttpEndPoint { get; }

    /// <summary>The bound HTTPS endpoint, or null when no certificate/address was configured.</summary>
    public IPEndPoint? HttpsEndPoint { get; }

    /// <summary>
    /// Starts nsqd's HTTP API for <paramref name="broker"/> as its options say: the plain listener on
    /// <c>HttpAddress</c>, an HTTPS one on <c>HttpsAddress</c> when a TLS certificate is configured (with
    /// the client-certificate policy of the TCP side), and 403 TLS_REQUIRED on plain HTTP under
    /// <c>--tls-required=true</c> (which a client-auth policy implies, as in nsqd). Records the bound
    /// endpoints on the broker for <c>/info</c> and the lookupd registration.
    /// </summary>
    /// <param name="broker">The broker to serve.</param>
    /// <param name="config">Run-time options shared with the lookupd registration.</param>
    /// <param name="cancellationToken">Cancels the start-up.</param>
    public static async Task<NsqdHttpServer> StartAsync(NsqdBroker broker, NsqdRuntimeConfig config, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(broker);
        ArgumentNullException.ThrowIfNull(config);
        var options = broker.Options;
        var tlsRequired = options.TlsRequired == NsqdTlsRequirement.Required
            || (options.TlsRequired == NsqdTlsRequirement.NotRequired && options.TlsClientAuthPolicy != NsqdTlsClientAuthPolicy.None);
        var serverOptions = new NsqdHttpServerOptions
        {
            HttpEndPoint = HostPort.ResolveListenEndPoint(options.HttpAddress, nameof(options.HttpAddress)),
            HttpsEndPoint = options.TlsCertificate is not null && !string.IsNullOrEmpty(options.HttpsAddress)
                ? HostPort.ResolveListenEndPoint(options.HttpsAddress, nameof(options.HttpsAddress))
                : null,
            Certificate = options.TlsCertificate,
            ClientCertificateMode = options.TlsClientAuthPolicy == NsqdTlsClientAuthPolicy.None
                ? ClientCertificateMode.NoCertificate
                : ClientCertificateMode.RequireCertificate,
            ClientCertificateValidation = options.TlsClientAuthPolicy switch
            {
                // "require": any certificate will do (Go's RequireAnyClientCert).
                NsqdTlsClientAuthPolicy.Require => static (_, _, _) => true,
                NsqdTlsClientAuthPolicy.RequireVerify => (certificate, _, _) => ChainsTo(certificate, options.TlsRootCertificates),
                _ => null,
            },
            TlsRequiredForHttp = tlsRequired,
        };
        var api = new NsqdHttpApi(broker, config);
        var server = await StartAsync(serverOptions, api.Router, cancellationToken).ConfigureAwait(false);
        broker.HttpEndPoint = server.HttpEndPoint;
        broker.HttpsEndPoint = server.HttpsEndPoint;
        return server;
    }

    /// <summary>Go's RequireAndVerifyClientCert against the configured roots (the system store when none are given).</summary>
    private static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection? roots)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (roots is { Count: > 0 })
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        }

        return chain.Build(certificate);
    }

    /// <summary>Binds the listeners and starts serving <paramref name="router"/>.</summary>
    public static async Task<NsqdHttpServer> StartAsync(NsqdHttpServerOptions options, NsqdHttpRouter router, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(router);

        // Kestrel's UseHttps resolves its metrics and loggers from ApplicationServices; UseKestrelCore
        // registers them (and nothing is hosted: only the service registrations are kept).
        var collection = new ServiceCollection()
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>))
            .AddMetrics();
        new ServiceRegistrations(collection).UseKestrelCore();
        var services = collection.BuildServiceProvider();
        var kestrelOptions = new KestrelServerOptions
        {
            AddServerHeader = false,
            ApplicationServices = services,
        };

        // nsqd bounds bodies itself (MSG_TOO_BIG / BODY_TOO_BIG); Kestrel must not answer first.
        kestrelOptions.Limits.MaxRequestBodySize = null;
        kestrelOptions.Listen(options.HttpEndPoint, listen => listen.Protocols = HttpProtocols.Http1);
        var withHttps = options.Certificate is not null && options.HttpsEndPoint is not null;
        if (withHttps)
        {
            kestrelOptions.Listen(options.HttpsEndPoint!, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = options.Certificate,
                    ClientCertificateMode = options.ClientCertificateMode,
                    ClientCertificateValidation = options.ClientCertificateValidation,
                });
            });
        }

        var transport = new SocketTransportFactory(Options.Create(new SocketTransportOptions()), NullLoggerFactory.Instance);
        var server = new KestrelServer(Options.Create(kestrelOptions), transport, NullLoggerFactory.Instance);
        var application = new Application(router, options.TlsRequiredForHttp);
        try
        {
            await server.StartAsync(application, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            server.Dispose();
            await services.DisposeAsync().ConfigureAwait(false);

            // Kestrel wraps a taken port in IOException(AddressInUseException(SocketException)); surface the
            // SocketException as the TCP listener does.
            for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
            {
                if (inner is SocketException socketException)
                {
                    ExceptionDispatchInfo.Throw(socketException);
                }
            }

            throw;
        }

        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var http = FindEndPoint(addresses, "http://") ?? options.HttpEndPoint;
        var https = withHttps ? FindEndPoint(addresses, "https://") ?? options.HttpsEndPoint : null;
        application.HttpsPort = https?.Port ?? 0;
        return new NsqdHttpServer(server, services, http, https);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            try
            {
                await _server.StopAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Connections that did not finish in time are aborted by Dispose below.
            }
        }

        _server.Dispose();
        await _services.DisposeAsync().ConfigureAwait(false);
    }

    private static IPEndPoint? FindEndPoint(ICollection<string> addresses, string scheme)
    {
        foreach (var address in addresses)
        {
            if (address.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
                && Uri.TryCreate(address, UriKind.Absolute, out var uri)
                && IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip))
            {
                return new IPEndPoint(ip, uri.Port);
            }
        }

        return null;
    }

    /// <summary>
    /// An <see cref="IWebHostBuilder"/> that only collects service registrations, so Kestrel's own
    /// registration extension can be used without a host.
    /// </summary>
    private sealed class ServiceRegistrations(IServiceCollection services) : IWebHostBuilder
    {
        // The interface still names the obsolete IWebHost; this builder never builds one.
#pragma warning disable ASPDEPR008
        public IWebHost Build() => throw new NotSupportedException("Only service registrations are collected.");
#pragma warning restore ASPDEPR008

        public IWebHostBuilder ConfigureAppConfiguration(Action<WebHostBuilderContext, IConfigurationBuilder> configureDelegate) => this;

        public IWebHostBuilder ConfigureServices(Action<IServiceCollection> configureServices)
        {
            configureServices(services);
            return this;
        }

        public IWebHostBuilder ConfigureServices(Action<WebHostBuilderContext, IServiceCollection> configureServices) =>
            throw new NotSupportedException("Only context-free service registrations are collected.");

        public string? GetSetting(string key) => null;

        public IWebHostBuilder UseSetting(string key, string? value) => this;
    }

    private sealed class Application(NsqdHttpRouter router, bool tlsRequiredForHttp) : IHttpApplication<HttpContext>
    {
        public int HttpsPort { get; set; }

        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);

        public void DisposeContext(HttpContext context, Exception? exception)
        {
        }

        public async Task ProcessRequestAsync(HttpContext context)
        {
            NsqdHttpResult result;
            var isHttps = context.Request.IsHttps;
            if (!isHttps && tlsRequiredForHttp)
            {
                result = NsqdHttpResult.Raw(403, Encoding.UTF8.GetBytes("{\"message\": \"TLS_REQUIRED\", \"https_port\": " + HttpsPort + "}"))
                    .WithHeader(NsqdHttpResult.NsqContentTypeHeader, NsqdHttpResult.NsqContentTypeValue)
                    .WithHeader("Content-Type", NsqdHttpResult.JsonContentType);
            }
            else if (!TrySplitTarget(context, out var path, out var rawQuery))
            {
                // Go's server rejects a request line whose path has a bad %-escape before any handler runs.
                result = NsqdHttpResult.Raw(400, "400 Bad Request"u8.ToArray())
                    .WithHeader("Content-Type", "text/plain; charset=utf-8")
                    .WithHeader("Connection", "close");
            }
            else
            {
                var request = new NsqdHttpRequest(
                    context.Request.Method,
                    path,
                    rawQuery,
                    context.Request.ContentLength ?? (IsChunked(context) ? -1 : 0),
                    context.Request.Body,
                    isHttps);
                try
                {
                    result = await router.DispatchAsync(request, context.RequestAborted).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception)
                {
                    // httprouter's PanicHandler answer.
                    result = NsqdHttpResult.V1Error(500, "INTERNAL_ERROR");
                }
            }

            await WriteAsync(context, result).ConfigureAwait(false);
        }

        private static bool IsChunked(HttpContext context) =>
            context.Request.Headers.TransferEncoding.ToString().Contains("chunked", StringComparison.OrdinalIgnoreCase);

        private static bool TrySplitTarget(HttpContext context, out string path, out string rawQuery)
        {
            var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
            if (string.IsNullOrEmpty(rawTarget) || rawTarget[0] != '/')
            {
                path = context.Request.Path.HasValue ? context.Request.Path.Value! : "/";
                rawQuery = context.Request.QueryString.HasValue ? context.Request.QueryString.Value![1..] : string.Empty;
                return true;
            }

            var question = rawTarget.IndexOf('?', StringComparison.Ordinal);
            var rawPath = question < 0 ? rawTarget : rawTarget[..question];
            rawQuery = question < 0 ? string.Empty : rawTarget[(question + 1)..];
            return GoQuery.TryUnescape(rawPath, plusIsSpace: false, out path);
        }

        private static async Task WriteAsync(HttpContext context, NsqdHttpResult result)
        {
            var response = context.Response;
            response.StatusCode = result.Status;
            var reason = NsqdHttpResult.ReasonPhrase(result.Status);
            if (reason.Length > 0 && context.Features.Get<IHttpResponseFeature>() is { } feature)
            {
                feature.ReasonPhrase = reason;
            }

            var hasContentType = false;
            foreach (var (name, value) in result.Headers)
            {
                hasContentType |= string.Equals(name, "Content-Type", StringComparison.OrdinalIgnoreCase);
                response.Headers.Append(name, value);
            }

            if (!hasContentType && result.Body.Length > 0)
            {
                response.Headers.ContentType = NsqdHttpResult.SniffContentType(result.Body);
            }

            response.ContentLength = result.Body.Length;
            if (result.Body.Length > 0 && !HttpMethods.IsHead(context.Request.Method))
            {
                await response.Body.WriteAsync(result.Body, context.RequestAborted).ConfigureAwait(false);
            }
        }
    }
}
