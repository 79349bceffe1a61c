using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace NsqTyped.Hosting.Internal;

/// <summary>Code-level customizations added through <see cref="NsqTypedBuilder"/>, applied after the bound settings.</summary>
internal sealed class NsqTypedCustomizations
{
    public List<Func<NsqdConnectionOptions, NsqdConnectionOptions>> Connection { get; } = [];

    public List<Func<NsqProducerOptions, NsqProducerOptions>> Producer { get; } = [];

    public List<Func<INsqHandlerDispatcher, NsqReaderOptions, NsqReaderOptions>> Consumer { get; } = [];
}

/// <summary>Turns the bound <see cref="NsqTypedOptions"/> into the library's option records. One place, so validation and the running services agree.</summary>
internal static class NsqTypedOptionsFactory
{
    public static string ConsumerKey(INsqHandlerDispatcher dispatcher) => dispatcher.Topic + "/" + dispatcher.Channel;

    public static NsqdConnectionOptions BuildConnection(NsqTypedOptions options, NsqTypedCustomizations? customizations, ILoggerFactory? loggerFactory)
    {
        var c = options.Connection ?? new NsqTypedConnectionSettings();
        var d = NsqdConnectionOptions.Default;
        var result = d with
        {
            ClientId = c.ClientId ?? d.ClientId,
            Hostname = c.Hostname ?? d.Hostname,
            UserAgent = c.UserAgent ?? d.UserAgent,
            HeartbeatInterval = c.HeartbeatInterval ?? d.HeartbeatInterval,
            OutputBufferSize = c.OutputBufferSize ?? d.OutputBufferSize,
            OutputBufferTimeout = c.OutputBufferTimeout ?? d.OutputBufferTimeout,
            Snappy = c.Snappy ?? d.Snappy,
            Deflate = c.Deflate ?? d.Deflate,
            DeflateLevel = c.DeflateLevel ?? d.DeflateLevel,
            SampleRate = c.SampleRate ?? d.SampleRate,
            MsgTimeout = c.MsgTimeout ?? d.MsgTimeout,
            AuthSecret = c.AuthSecret ?? d.AuthSecret,
            ConnectTimeout = c.ConnectTimeout ?? d.ConnectTimeout,
            ReadTimeout = c.ReadTimeout ?? d.ReadTimeout,
            WriteTimeout = c.WriteTimeout ?? d.WriteTimeout,
            MaxMessageSize = c.MaxMessageSize ?? d.MaxMessageSize,
            MaxBodySize = c.MaxBodySize ?? d.MaxBodySize,
            Tls = BuildTls(c.Tls),
            LoggerFactory = loggerFactory,
        };

        if (customizations is not null)
        {
            foreach (var configure in customizations.Connection)
            {
                result = configure(result);
            }
        }

        return result;
    }

    public static NsqProducerOptions BuildProducer(NsqTypedOptions options, NsqdConnectionOptions connection, NsqTypedCustomizations? customizations)
    {
        var p = options.Producer ?? new NsqTypedProducerSettings();
        var d = NsqProducerOptions.Default;
        var result = d with
        {
            Connection = connection,
            ConnectionsPerNode = p.ConnectionsPerNode ?? d.ConnectionsPerNode,
            PublishTimeout = p.PublishTimeout ?? d.PublishTimeout,
            DisconnectedPolicy = p.DisconnectedPolicy ?? d.DisconnectedPolicy,
            DisconnectedWaitTimeout = p.DisconnectedWaitTimeout ?? d.DisconnectedWaitTimeout,
            ReconnectBaseDelay = p.ReconnectBaseDelay ?? d.ReconnectBaseDelay,
            ReconnectMaxDelay = p.ReconnectMaxDelay ?? d.ReconnectMaxDelay,
        };

        if (customizations is not null)
        {
            foreach (var configure in customizations.Producer)
            {
                result = configure(result);
            }
        }

        return result;
    }

    /// <summary>Whether the handler runs in this host (<c>Enabled</c> of its override, else of the defaults).</summary>
    public static bool IsConsumerEnabled(NsqTypedOptions options, INsqHandlerDispatcher dispatcher)
    {
        var specific = Specific(options, dispatcher);
        return options.ConsumersEnabled && (specific?.Enabled ?? options.Consumer?.Enabled ?? true);
    }

    public static NsqReaderOptions BuildReader(
        NsqTypedOptions options, INsqHandlerDispatcher dispatcher, NsqdConnectionOptions connection, NsqTypedCustomizations? customizations, ILoggerFactory? loggerFactory)
    {
        var s = Specific(options, dispatcher) ?? new NsqTypedConsumerSettings();
        var g = options.Consumer ?? new NsqTypedConsumerSettings();
        var d = new NsqReaderOptions();
        var lookupds = options.LookupdHttpAddresses ?? [];
        var result = d with
        {
            Topic = dispatcher.Topic,
            Channel = dispatcher.Channel,
            NsqdTcpAddresses = lookupds.Count > 0 ? [] : [.. options.NsqdTcpAddresses ?? []],
            LookupdHttpAddresses = [.. lookupds],
            Name = "NsqTyped.Consumer." + dispatcher.HandlerName,
            MaxTries = s.MaxTries ?? g.MaxTries ?? d.MaxTries,
            MaxInFlight = s.MaxInFlight ?? g.MaxInFlight ?? d.MaxInFlight,
            MaxConcurrency = s.MaxConcurrency ?? g.MaxConcurrency ?? d.MaxConcurrency,
            RequeueDelay = s.RequeueDelay ?? g.RequeueDelay ?? d.RequeueDelay,
            LookupdPollInterval = s.LookupdPollInterval ?? g.LookupdPollInterval ?? d.LookupdPollInterval,
            LookupdPollJitter = s.LookupdPollJitter ?? g.LookupdPollJitter ?? d.LookupdPollJitter,
            LowReadyIdleTimeout = s.LowReadyIdleTimeout ?? g.LowReadyIdleTimeout ?? d.LowReadyIdleTimeout,
            MaxBackoffDuration = s.MaxBackoffDuration ?? g.MaxBackoffDuration ?? d.MaxBackoffDuration,
            BackoffOnRequeue = s.BackoffOnRequeue ?? g.BackoffOnRequeue ?? d.BackoffOnRequeue,
            ReconnectDelay = s.ReconnectDelay ?? g.ReconnectDelay ?? d.ReconnectDelay,
            MaxReconnectDelay = s.MaxReconnectDelay ?? g.MaxReconnectDelay ?? d.MaxReconnectDelay,
            Connection = connection,
            LoggerFactory = loggerFactory,
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

    private static NsqTypedConsumerSettings? Specific(NsqTypedOptions options, INsqHandlerDispatcher dispatcher) =>
        options.Consumers is { } consumers && consumers.TryGetValue(ConsumerKey(dispatcher), out var specific) ? specific : null;

    private static NsqTlsOptions? BuildTls(NsqTypedTlsSettings? tls)
    {
        if (tls is null || !tls.Enabled)
        {
            return null;
        }

        X509Certificate2Collection? authorities = null;
        if (!string.IsNullOrEmpty(tls.TrustedCaCertificatePath))
        {
            authorities = [];
            authorities.ImportFromPemFile(tls.TrustedCaCertificatePath);
        }

        X509Certificate2? client = null;
        if (!string.IsNullOrEmpty(tls.ClientCertificatePath))
        {
            client = X509Certificate2.CreateFromPemFile(tls.ClientCertificatePath, tls.ClientKeyPath);
        }

        return new NsqTlsOptions
        {
            TargetHost = tls.TargetHost,
            TrustedCertificateAuthorities = authorities,
            ClientCertificate = client,
            CheckCertificateRevocation = tls.CheckCertificateRevocation,
        };
    }
}
