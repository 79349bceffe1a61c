using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using NsqTyped.Hosting.Internal;

namespace NsqTyped.Hosting;

/// <summary>
/// The <c>"nsq"</c> health check that <c>AddNsqTyped</c> registers: reports the producer's and every hosted
/// consumer's nsqd connections.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><b>Unhealthy</b>: nsqd addresses are configured but the producer has no open connection (publishes would wait or fail).</item>
/// <item><b>Degraded</b>: the consumers are not running (the host has not started, or stopped), or a consumer has no nsqd
/// connection (nsqd unreachable, or lookupd lists no producer of its topic yet).</item>
/// <item><b>Healthy</b>: everything configured is connected.</item>
/// </list>
/// The result's data lists <c>producer</c> (<c>open/total</c> connections) and one entry per consumer,
/// keyed <c>topic/channel</c>, with its connection count.
/// </remarks>
public sealed class NsqHealthCheck : IHealthCheck
{
    private readonly IServiceProvider _services;
    private readonly IOptions<NsqTypedOptions> _options;
    private readonly NsqTypedConsumers _consumers;

    /// <summary>Created by the container.</summary>
    /// <param name="services">Resolves the producer.</param>
    /// <param name="options">The settings.</param>
    /// <param name="consumers">The running consumers.</param>
    internal NsqHealthCheck(IServiceProvider services, IOptions<NsqTypedOptions> options, NsqTypedConsumers consumers)
    {
        _services = services;
        _options = options;
        _consumers = consumers;
    }

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var problems = new List<string>();
        var status = HealthStatus.Healthy;

        if (_options.Value.NsqdTcpAddresses is { Count: > 0 })
        {
            var producer = _services.GetRequiredService<NsqProducer>();
            var total = producer.Addresses.Count * producer.Options.ConnectionsPerNode;
            var open = producer.ConnectedCount;
            data["producer"] = $"{open}/{total}";
            if (open == 0)
            {
                status = HealthStatus.Unhealthy;
                problems.Add($"the producer has no open connection to nsqd ({string.Join(", ", producer.Addresses)})");
            }
        }

        if (!_consumers.Started)
        {
            if (_options.Value.ConsumersEnabled)
            {
                status = Worse(status, HealthStatus.Degraded);
                problems.Add("the consumers are not running (the host has not started them, or has stopped)");
            }
        }
        else
        {
            foreach (var consumer in _consumers.Running)
            {
                var connections = consumer.Reader.Connections.Count;
                data[consumer.Key] = connections;
                if (connections == 0)
                {
                    status = Worse(status, HealthStatus.Degraded);
                    problems.Add($"consumer {consumer.Key} has no nsqd connection");
                }
            }
        }

        var description = problems.Count == 0
            ? $"NSQ connected: {data.Count} component(s)."
            : "NSQ: " + string.Join("; ", problems) + ".";
        return Task.FromResult(new HealthCheckResult(status, description, exception: null, data));
    }

    private static HealthStatus Worse(HealthStatus a, HealthStatus b) => a < b ? a : b;
}
