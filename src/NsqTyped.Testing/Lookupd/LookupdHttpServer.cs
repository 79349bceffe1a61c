using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace NsqTyped.Testing.Lookupd;

/// <summary>
/// A bare Kestrel server (no host, no middleware, no <c>Server</c> header, HTTP/1.1 only) that hands every
/// request to one <see cref="RequestDelegate"/>. Binding port 0 picks a free port; <see cref="EndPoint"/>
/// then holds the real one.
/// </summary>
internal sealed class LookupdHttpServer : IAsyncDisposable
{
    private readonly KestrelServer _server;
    private readonly ServiceProvider _services;

    private LookupdHttpServer(KestrelServer server, ServiceProvider services, IPEndPoint endPoint)
    {
        _server = server;
        _services = services;
        EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }

    public static async Task<LookupdHttpServer> StartAsync(IPEndPoint bindTo, RequestDelegate handler, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var services = new ServiceCollection().BuildServiceProvider();
        var kestrelOptions = new KestrelServerOptions
        {
            AddServerHeader = false,
            ApplicationServices = services,
        };
        kestrelOptions.Listen(bindTo, listen => listen.Protocols = HttpProtocols.Http1);
        var transport = new SocketTransportFactory(Options.Create(new SocketTransportOptions()), loggerFactory);
        var server = new KestrelServer(Options.Create(kestrelOptions), transport, loggerFactory);
        try
        {
            await server.StartAsync(new Application(handler), cancellationToken).ConfigureAwait(false);
            var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
                ?? throw new InvalidOperationException("Kestrel did not report the address it listens on.");
            var port = new Uri(address).Port;
            return new LookupdHttpServer(server, services, new IPEndPoint(bindTo.Address, port));
        }
        catch
        {
            server.Dispose();
            await services.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _server.StopAsync(timeout.Token).ConfigureAwait(false);
        }

        _server.Dispose();
        await _services.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class Application(RequestDelegate handler) : IHttpApplication<HttpContext>
    {
        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);

        public Task ProcessRequestAsync(HttpContext context) => handler(context);

        public void DisposeContext(HttpContext context, Exception? exception)
        {
        }
    }
}
