using Microsoft.Extensions.DependencyInjection;

namespace NsqTyped.Generators.Tests.Runtime;

/// <summary>The generated AddNsqTypedHandlers registers handler classes and dispatchers explicitly.</summary>
public sealed class ServiceCollectionTests
{
    [Fact]
    public void AddNsqTypedHandlers_registers_instance_handler_classes_scoped_and_one_dispatcher_per_handler()
    {
        var services = new ServiceCollection();

        services.AddNsqTypedHandlers();

        var scoped = services.Where(d => d.Lifetime == ServiceLifetime.Scoped).Select(d => (d.ServiceType, d.ImplementationType)).OrderBy(t => t.ServiceType.Name).ToArray();
        Assert.Equal(
            new (Type, Type?)[]
            {
                (typeof(DependentHandler), typeof(DependentHandler)),
                (typeof(RecordingHandlers), typeof(RecordingHandlers)),
                (typeof(SelfContainedHandler), typeof(SelfContainedHandler)),
            },
            scoped);
        var dispatchers = services.Where(d => d.ServiceType == typeof(INsqHandlerDispatcher)).ToArray();
        Assert.All(dispatchers, d => Assert.Equal(ServiceLifetime.Singleton, d.Lifetime));
        Assert.Equal(
            NsqTypedHandlers.All.Select(d => d.HandlerName).Order(),
            dispatchers.Select(d => ((INsqHandlerDispatcher)d.ImplementationInstance!).HandlerName).Order());
    }

    [Fact]
    public void AddNsqTypedHandlers_twice_adds_nothing_more_and_keeps_earlier_registrations()
    {
        var services = new ServiceCollection();
        services.AddSingleton<RecordingHandlers>();

        services.AddNsqTypedHandlers();
        var count = services.Count;
        services.AddNsqTypedHandlers();

        Assert.Equal(count, services.Count);
        Assert.Equal(ServiceLifetime.Singleton, Assert.Single(services, d => d.ServiceType == typeof(RecordingHandlers)).Lifetime);
    }
}
