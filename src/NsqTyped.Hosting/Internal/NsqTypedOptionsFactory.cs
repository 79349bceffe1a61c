using Microsoft.Extensions.Logging;

namespace NsqTyped.Hosting.Internal;

/// <summary>Code-level customizations added through <see cref="NsqTypedBuilder"/>, applied after the bound settings.</summary>
internal sealed class NsqTypedCustomizations
{
    public List<Func<NsqdConnectionOptions, NsqdConnectionOptions>> Connection { get; } = [];

    public List<Func<NsqProducerOptions, NsqProducerOptions>> Producer { get; } = [];

    public List<Func<INsqHandlerDispatcher, NsqReaderOptions, NsqReaderOptions>> Consumer { get; } = [];

    public List<Func<INsqHandlerDispatcher, NsqMessage, IServiceProvider, CancellationToken, ValueTask>> GivingUp { get; } = [];
}

/// <summary>
/// Puts the bound records together into what each service runs with (addresses, the shared connection, the
/// handler's topic and channel, then the builder's customizations). One place, so validation and the running services agree.
/// </summary>
internal static class NsqTypedOptionsFactory
{
    public static string ConsumerKey(INsqHandlerDispatcher dispatcher) => dispatcher.Topic + "/" + dispatcher.Channel;

    public static NsqdConnectionOptions BuildConnection(NsqTypedOptions options, NsqTypedCustomizations? customizations, ILoggerFactory? loggerFactory)
    {
        var result = options.Connection ?? NsqdConnectionOptions.Default;
        result = result with { LoggerFactory = result.LoggerFactory ?? loggerFactory };
        foreach (var configure in customizations?.Connection ?? [])
        {
            result = configure(result);
        }

        return result;
    }

    public static NsqProducerOptions BuildProducer(NsqTypedOptions options, NsqdConnectionOptions connection, NsqTypedCustomizations? customizations)
    {
        var result = (options.Producer ?? NsqProducerOptions.Default) with { Connection = connection };
        foreach (var configure in customizations?.Producer ?? [])
        {
            result = configure(result);
        }

        return result;
    }

    /// <summary>Whether the handler runs in this host.</summary>
    public static bool IsConsumerEnabled(NsqTypedOptions options, INsqHandlerDispatcher dispatcher) =>
        options.ConsumersEnabled && options.DisabledConsumers?.Contains(ConsumerKey(dispatcher)) != true;

    /// <summary>
    /// The handler's Reader options: its <c>Consumers</c> entry, else <c>Consumer</c>; the handler's topic and channel;
    /// the dead-letter topic of its entry, else of its <c>[NsqHandler]</c>, else of <c>Consumer</c>; then <c>ConfigureConsumer</c>.
    /// </summary>
    public static NsqReaderOptions BuildReader(
        NsqTypedOptions options, INsqHandlerDispatcher dispatcher, NsqdConnectionOptions connection, NsqTypedCustomizations? customizations, ILoggerFactory? loggerFactory)
    {
        var defaults = options.Consumer ?? NsqReaderOptions.Default;
        var specific = options.Consumers is { } consumers && consumers.TryGetValue(ConsumerKey(dispatcher), out var entry) ? entry : null;
        var start = specific ?? defaults;
        var lookupds = options.LookupdHttpAddresses ?? [];
        var deadLetterTopic = specific is not null && specific.DeadLetterTopic != defaults.DeadLetterTopic
            ? specific.DeadLetterTopic
            : dispatcher.DeadLetterTopic ?? defaults.DeadLetterTopic;
        var result = start with
        {
            Topic = dispatcher.Topic,
            Channel = dispatcher.Channel,
            NsqdTcpAddresses = lookupds.Count > 0 ? [] : [.. options.NsqdTcpAddresses ?? []],
            LookupdHttpAddresses = [.. lookupds],
            Name = start.Name ?? "NsqTyped.Consumer." + dispatcher.HandlerName,
            DeadLetterTopic = deadLetterTopic,
            Connection = connection,
            LoggerFactory = start.LoggerFactory ?? loggerFactory,
        };

        if (customizations is not null)
        {
            foreach (var configure in customizations.Consumer)
            {
                result = configure(dispatcher, result);
            }

            if (result.Topic != dispatcher.Topic || result.Channel != dispatcher.Channel)
            {
                throw new ArgumentException(
                    $"ConfigureConsumer changed {dispatcher.HandlerName}'s subscription to {result.Topic}/{result.Channel}; it handles {dispatcher.Topic}/{dispatcher.Channel} only.",
                    nameof(NsqReaderOptions.Topic));
            }
        }

        return result;
    }
}
