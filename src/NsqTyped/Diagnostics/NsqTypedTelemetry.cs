namespace NsqTyped;

/// <summary>The names to subscribe to NsqTyped's traces and metrics (OpenTelemetry or listeners).</summary>
/// <example>
/// <code>
/// builder.Services.AddOpenTelemetry()
///     .WithTracing(t => t.AddSource(NsqTypedTelemetry.ActivitySourceName))
///     .WithMetrics(m => m.AddMeter(NsqTypedTelemetry.MeterName));
/// </code>
/// </example>
public static class NsqTypedTelemetry
{
    /// <summary>The name of the <see cref="System.Diagnostics.ActivitySource"/> every NsqTyped span comes from.</summary>
    public const string ActivitySourceName = "NsqTyped";

    /// <summary>The name of the <see cref="System.Diagnostics.Metrics.Meter"/> every NsqTyped instrument belongs to.</summary>
    public const string MeterName = "NsqTyped";
}
