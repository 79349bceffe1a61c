using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NsqTyped;
using NsqTyped.Hosting;
using NsqTyped.Hosting.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers NsqTyped in a service collection: producer, hosted consumers, options, health check.</summary>
public static class NsqTypedServiceCollectionExtensions
{
    /// <summary>The name of the health check <c>AddNsqTyped</c> registers.</summary>
    public const string HealthCheckName = "nsq";

    /// <summary>
    /// Registers NsqTyped with settings from the <c>"Nsq"</c> section of the host's <see cref="IConfiguration"/> (when the
    /// container has one), then <paramref name="configure"/>:
    /// <list type="bullet">
    /// <item><see cref="NsqProducer"/> as a singleton, also as <see cref="INsqPublisher"/> (so the generated
    /// <c>Publish{Name}Async</c> methods work on the injected publisher); disposed with the container;</item>
    /// <item>a hosted service running one <see cref="NsqReader"/> per generated handler registered with
    /// <c>services.AddNsqTypedHandlers()</c>, a DI scope per message, draining in-flight messages when the host stops
    /// (within the host's shutdown timeout);</item>
    /// <item>validation of <see cref="NsqTypedOptions"/> when the host starts: every problem at once, one line each naming its configuration key (also logged);</item>
    /// <item>the <c>"nsq"</c> health check (<see cref="NsqHealthCheck"/>).</item>
    /// </list>
    /// Calling it again only adds <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Adjusts the settings after configuration binding.</param>
    /// <returns>A builder for code-level option changes.</returns>
    /// <example>
    /// <code>
    /// var builder = Host.CreateApplicationBuilder(args);
    /// builder.Services.AddNsqTypedHandlers();   // generated from your [NsqHandler] methods
    /// builder.Services.AddNsqTyped();           // reads the "Nsq" section
    /// await builder.Build().RunAsync();
    /// </code>
    /// </example>
    public static NsqTypedBuilder AddNsqTyped(this IServiceCollection services, Action<NsqTypedOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = AddCore(services, bindHostConfiguration: true);
        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    /// <summary>
    /// Registers NsqTyped (see <see cref="AddNsqTyped(IServiceCollection, Action{NsqTypedOptions}?)"/>) with settings from the
    /// <c>"Nsq"</c> section of <paramref name="configuration"/> (pass <c>builder.Configuration</c>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">A configuration whose <c>"Nsq"</c> section holds the settings.</param>
    /// <param name="configure">Adjusts the settings after binding.</param>
    /// <returns>A builder for code-level option changes.</returns>
    public static NsqTypedBuilder AddNsqTyped(this IServiceCollection services, IConfiguration configuration, Action<NsqTypedOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services.AddNsqTyped(configuration.GetSection(NsqTypedOptions.SectionName), configure);
    }

    /// <summary>
    /// Registers NsqTyped (see <see cref="AddNsqTyped(IServiceCollection, Action{NsqTypedOptions}?)"/>) with settings bound
    /// from <paramref name="section"/> itself (e.g. <c>builder.Configuration.GetSection("Messaging:Nsq")</c>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">The section holding the settings.</param>
    /// <param name="configure">Adjusts the settings after binding.</param>
    /// <returns>A builder for code-level option changes.</returns>
    public static NsqTypedBuilder AddNsqTyped(this IServiceCollection services, IConfigurationSection section, Action<NsqTypedOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        var builder = AddCore(services, bindHostConfiguration: false);
        services.AddOptions<NsqTypedOptions>().Configure(o => NsqConfigurationBinder.Bind(section, o));
        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    private static NsqTypedBuilder AddCore(IServiceCollection services, bool bindHostConfiguration)
    {
        var existing = services.FirstOrDefault(d => d.ServiceType == typeof(NsqTypedCustomizations))?.ImplementationInstance as NsqTypedCustomizations;
        if (existing is not null)
        {
            return new NsqTypedBuilder(services, existing);
        }

        var customizations = new NsqTypedCustomizations();
        services.AddSingleton(customizations);
        var options = services.AddOptions<NsqTypedOptions>();
        if (bindHostConfiguration)
        {
            options.Configure<IServiceProvider>(static (o, sp) =>
            {
                if (sp.GetService<IConfiguration>() is { } configuration)
                {
                    NsqConfigurationBinder.Bind(configuration.GetSection(NsqTypedOptions.SectionName), o);
                }
            });
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NsqTypedOptions>, NsqTypedOptionsValidator>());
        services.TryAddSingleton<NsqTypedConsumers>();
        services.TryAddSingleton(static sp => CreateProducer(sp));
        services.TryAddSingleton<INsqPublisher>(static sp => sp.GetRequiredService<NsqProducer>());
        services.AddHostedService<NsqTypedHostedService>();
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            HealthCheckName,
            static sp => new NsqHealthCheck(sp, sp.GetRequiredService<IOptions<NsqTypedOptions>>(), sp.GetRequiredService<NsqTypedConsumers>()),
            failureStatus: null,
            tags: ["nsq"]));
        return new NsqTypedBuilder(services, customizations);
    }

    private static NsqProducer CreateProducer(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<NsqTypedOptions>>().Value;
        if (options.NsqdTcpAddresses is not { Count: > 0 })
        {
            throw new InvalidOperationException(
                $"The NsqTyped producer needs an nsqd TCP address: set {NsqTypedOptions.SectionName}:NsqdTcpAddresses (e.g. [\"127.0.0.1:4150\"]). " +
                "nsqlookupd addresses are only used by consumers.");
        }

        var customizations = services.GetRequiredService<NsqTypedCustomizations>();
        var loggerFactory = services.GetService<ILoggerFactory>();
        var connection = NsqTypedOptionsFactory.BuildConnection(options, customizations, loggerFactory);
        return new NsqProducer(options.NsqdTcpAddresses, NsqTypedOptionsFactory.BuildProducer(options, connection, customizations));
    }
}
