using Microsoft.Extensions.DependencyInjection;
using NsqTyped.Hosting.Internal;

namespace NsqTyped.Hosting;

/// <summary>
/// Returned by <c>AddNsqTyped</c>: adjusts the option records in code after the configuration was applied,
/// for what configuration cannot express (certificate objects, a custom validation callback, a
/// <see cref="TimeProvider"/>, a giving-up hook with the app's services).
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

    /// <summary>
    /// Runs <paramref name="hook"/> when a hosted consumer gives a message up (beyond <see cref="NsqReaderOptions.MaxTries"/>,
    /// or a poison message), before its dead-letter copy and FIN, with a DI scope of its own. An exception it throws is
    /// logged and the message is given up anyway.
    /// </summary>
    /// <param name="hook">Given the handler's dispatcher, the message, the scope's services and the Reader's stopping token.</param>
    /// <returns>This builder.</returns>
    /// <example>
    /// <code>
    /// services.AddNsqTyped().OnGivingUp(async (handler, message, services, ct) =&gt;
    ///     await services.GetRequiredService&lt;IAlerts&gt;().PoisonAsync(handler.Topic, message.Id.ToString(), ct));
    /// </code>
    /// </example>
    public NsqTypedBuilder OnGivingUp(Func<INsqHandlerDispatcher, NsqMessage, IServiceProvider, CancellationToken, ValueTask> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        _customizations.GivingUp.Add(hook);
        return this;
    }
}
