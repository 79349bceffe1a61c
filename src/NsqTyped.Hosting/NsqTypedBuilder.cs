using Microsoft.Extensions.DependencyInjection;
using NsqTyped.Hosting.Internal;

namespace NsqTyped.Hosting;

/// <summary>
/// Returned by <c>AddNsqTyped</c>: adjusts the option records in code after the configuration was applied,
/// for what configuration cannot express (certificate objects, a custom validation callback, a
/// <see cref="TimeProvider"/>, a dead-letter <see cref="NsqReaderOptions.GivingUpHook"/>).
/// </summary>
/// <example>
/// <code>
/// services.AddNsqTyped(builder.Configuration)
///     .ConfigureConnection(o => o with { Tls = new NsqTlsOptions { TrustedCertificateAuthorities = [ca] } })
///     .ConfigureConsumer((dispatcher, o) => dispatcher.Topic == "orders" ? o with { MaxInFlight = 500 } : o);
/// </code>
/// </example>
public sealed class NsqTypedBuilder
{
    private readonly NsqTypedCustomizations _customizations;

    internal NsqTypedBuilder(IServiceCollection services, NsqTypedCustomizations customizations)
    {
        Services = services;
        _customizations = customizations;
    }

    /// <summary>The service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Changes the options of every nsqd connection (producer and consumers).</summary>
    /// <param name="configure">Returns the options to use, typically <c>o =&gt; o with { ... }</c>.</param>
    /// <returns>This builder.</returns>
    public NsqTypedBuilder ConfigureConnection(Func<NsqdConnectionOptions, NsqdConnectionOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _customizations.Connection.Add(configure);
        return this;
    }

    /// <summary>Changes the producer's options.</summary>
    /// <param name="configure">Returns the options to use.</param>
    /// <returns>This builder.</returns>
    public NsqTypedBuilder ConfigureProducer(Func<NsqProducerOptions, NsqProducerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _customizations.Producer.Add(configure);
        return this;
    }

    /// <summary>Changes the Reader options of hosted consumers; called once per generated handler.</summary>
    /// <param name="configure">Given the handler's dispatcher and its options, returns the options to use (topic and channel must stay).</param>
    /// <returns>This builder.</returns>
    public NsqTypedBuilder ConfigureConsumer(Func<INsqHandlerDispatcher, NsqReaderOptions, NsqReaderOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _customizations.Consumer.Add(configure);
        return this;
    }
}
