using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace NsqTyped.Hosting.Tests;

internal static class HostingTestKit
{
    /// <summary>A host with the test handlers, <c>AddNsqTyped()</c> and only the given configuration (no environment, no files).</summary>
    public static IHost BuildHost(IDictionary<string, string?> configuration, Action<IServiceCollection>? configureServices = null, TimeSpan? shutdownTimeout = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Test" });
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Services.AddSingleton<Probe>();
        builder.Services.AddScoped<ScopeId>();
        builder.Services.AddNsqTypedHandlers();
        builder.Services.AddNsqTyped();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdownTimeout ?? TimeSpan.FromSeconds(10));
        configureServices?.Invoke(builder.Services);
        return builder.Build();
    }

    public static Dictionary<string, string?> NsqdOnly(string tcpAddress) => new()
    {
        ["Nsq:NsqdTcpAddresses:0"] = tcpAddress,
        // Fast reconnects and short waits keep failure tests quick.
        ["Nsq:Producer:ReconnectBaseDelay"] = "00:00:00.050",
        ["Nsq:Producer:ReconnectMaxDelay"] = "00:00:00.200",
        ["Nsq:Consumer:ReconnectDelay"] = "00:00:00.100",
        ["Nsq:Consumer:MaxReconnectDelay"] = "00:00:00.500",
    };
}
