using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace NsqTyped.Hosting.Internal;

/// <summary>
/// Runs one <see cref="NsqReader"/> per registered generated dispatcher (the Reader's dispatcher constructor: each
/// message in its own DI scope, the handler's <c>[NsqHandler(DeadLetterTopic)]</c> applied),
/// and drains them when the host stops: <see cref="StopAsync"/> closes every Reader gracefully and gives up
/// only when the host's shutdown timeout fires the token it passes.
/// </summary>
internal sealed class NsqTypedHostedService(
    IServiceProvider services,
    IServiceScopeFactory scopeFactory,
    IOptions<NsqTypedOptions> options,
    IEnumerable<INsqHandlerDispatcher> dispatchers,
    NsqTypedCustomizations customizations,
    NsqTypedConsumers consumers,
    ILoggerFactory? loggerFactory = null) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _logger = (ILogger?)loggerFactory?.CreateLogger("NsqTyped.Hosting") ?? NullLogger.Instance;
    private readonly List<RunningConsumer> _started = [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var connection = NsqTypedOptionsFactory.BuildConnection(settings, customizations, loggerFactory);
        if (settings.NsqdTcpAddresses is { Count: > 0 } && settings.ConnectProducerOnStart)
        {
            var producer = services.GetRequiredService<NsqProducer>();
            _ = ConnectProducerAsync(producer);
        }

        var all = dispatchers.ToList();
        if (all.Count == 0)
        {
            HostingLog.NoHandlers(_logger);
        }

        try
        {
            foreach (var dispatcher in all)
            {
                if (!NsqTypedOptionsFactory.IsConsumerEnabled(settings, dispatcher))
                {
                    HostingLog.ConsumerDisabled(_logger, dispatcher.HandlerName, dispatcher.Topic, dispatcher.Channel);
                    continue;
                }

                var readerOptions = NsqTypedOptionsFactory.BuildReader(settings, dispatcher, connection, customizations, loggerFactory);
                var source = readerOptions.LookupdHttpAddresses.Count > 0
                    ? "lookupd " + string.Join(", ", readerOptions.LookupdHttpAddresses)
                    : "nsqd " + string.Join(", ", readerOptions.NsqdTcpAddresses);
                HostingLog.ConsumerStarting(_logger, dispatcher.HandlerName, dispatcher.Topic, dispatcher.Channel, source, readerOptions.MaxInFlight);
                readerOptions = WithDeadLettering(settings, dispatcher, readerOptions);
                var reader = new NsqReader(readerOptions, dispatcher, services);
                _started.Add(new RunningConsumer(dispatcher, reader));
                await reader.StartAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await Task.WhenAll(_started.Select(c => c.Reader.DisposeAsync().AsTask())).ConfigureAwait(false);
            _started.Clear();
            throw;
        }

        consumers.SetRunning([.. _started]);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_started.Count == 0)
        {
            consumers.SetStopped();
            return;
        }

        HostingLog.Draining(_logger, _started.Count);
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(_started.Select(c => CloseAsync(c, cancellationToken))).ConfigureAwait(false);
        var elapsed = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (cancellationToken.IsCancellationRequested)
        {
            HostingLog.DrainCutShort(_logger, elapsed);
        }
        else
        {
            HostingLog.Drained(_logger, elapsed);
        }

        _started.Clear();
        consumers.SetStopped();
    }

    /// <summary>A host disposed without being stopped still closes its Readers (bounded as <see cref="NsqReader.DisposeAsync"/> is).</summary>
    public async ValueTask DisposeAsync()
    {
        var running = _started.ToArray();
        _started.Clear();
        foreach (var consumer in running)
        {
            await consumer.Reader.DisposeAsync().ConfigureAwait(false);
        }

        consumers.SetStopped();
    }

    private async Task CloseAsync(RunningConsumer consumer, CancellationToken cancellationToken)
    {
        try
        {
            await consumer.Reader.CloseAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The shutdown timeout fired: the Reader already cancelled its handlers and closed its sockets.
        }
        catch (Exception ex)
        {
            HostingLog.ConsumerCloseFailed(_logger, consumer.Dispatcher.HandlerName, consumer.Dispatcher.Topic, consumer.Dispatcher.Channel, ex);
        }
    }

    /// <summary>
    /// Dead letters go through the registered producer when there is one (else over the Reader's own connections), and
    /// the builder's <c>OnGivingUp</c> hooks run after any <see cref="NsqReaderOptions.GivingUpHook"/>, in a DI scope of their own.
    /// </summary>
    private NsqReaderOptions WithDeadLettering(NsqTypedOptions settings, INsqHandlerDispatcher dispatcher, NsqReaderOptions options)
    {
        if (options.DeadLetterTopic is not null && options.DeadLetterPublisher is null && settings.NsqdTcpAddresses is { Count: > 0 })
        {
            options = options with { DeadLetterPublisher = services.GetRequiredService<INsqPublisher>() };
        }

        if (customizations.GivingUp.Count == 0)
        {
            return options;
        }

        var hooks = customizations.GivingUp.ToArray();
        var configured = options.GivingUpHook;
        return options with
        {
            GivingUpHook = async (message, cancellationToken) =>
            {
                if (configured is not null)
                {
                    await configured(message, cancellationToken).ConfigureAwait(false);
                }

                var scope = scopeFactory.CreateAsyncScope();
                await using (scope.ConfigureAwait(false))
                {
                    foreach (var hook in hooks)
                    {
                        await hook(dispatcher, message, scope.ServiceProvider, cancellationToken).ConfigureAwait(false);
                    }
                }
            },
        };
    }

    private async Task ConnectProducerAsync(NsqProducer producer)
    {
        var addresses = string.Join(", ", producer.Addresses);
        try
        {
            await producer.ConnectAsync().ConfigureAwait(false);
            HostingLog.ProducerConnected(_logger, addresses);
        }
        catch (ObjectDisposedException)
        {
            // The host stopped before the first connection opened.
        }
        catch (NsqException ex)
        {
            HostingLog.ProducerConnectFailed(_logger, addresses, ex);
        }
    }
}
