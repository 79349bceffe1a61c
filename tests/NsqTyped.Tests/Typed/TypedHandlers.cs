using System.Diagnostics;

namespace NsqTyped.Tests.Typed;

/// <summary>Static handler taking the context and the token.</summary>
public static class ShipmentTracking
{
    public const string Name = "tracking";

    [NsqHandler(Channel = "tracking")]
    public static ValueTask OnDispatchedAsync(ShipmentDispatched shipment, NsqMessageContext context, CancellationToken cancellationToken)
    {
        TypedDeliveries.Record(shipment.RunId, new TypedDelivery(
            Name, shipment, context.Topic, context.Channel, context.Attempts, cancellationToken.CanBeCanceled, 0, Stopwatch.GetTimestamp()));
        return ValueTask.CompletedTask;
    }
}

/// <summary>Instance handler with a parameterless constructor, returning <see cref="Task"/>: runs without any DI.</summary>
public sealed class ShipmentBilling
{
    public const string Name = "billing";

    private readonly int _instanceId = TypedDeliveries.NextInstanceId();

    [NsqHandler(Channel = "billing")]
    public Task OnDispatchedAsync(ShipmentDispatched shipment, CancellationToken cancellationToken)
    {
        TypedDeliveries.Record(shipment.RunId, new TypedDelivery(
            Name, shipment, null, null, 0, cancellationToken.CanBeCanceled, _instanceId, Stopwatch.GetTimestamp()));
        return Task.CompletedTask;
    }
}

/// <summary>Static handler of a String topic, taking only the context.</summary>
internal static class AuditHandlers
{
    public const string Name = "audit";

    [NsqHandler(Channel = "audit-log")]
    internal static Task OnLineAsync(AuditLine line, NsqMessageContext context)
    {
        var separator = line.Text.IndexOf('|', StringComparison.Ordinal);
        var runId = separator < 0 ? line.Text : line.Text[..separator];
        TypedDeliveries.Record(runId, new TypedDelivery(
            Name, line, context.Topic, context.Channel, context.Attempts, null, 0, Stopwatch.GetTimestamp()));
        return Task.CompletedTask;
    }
}

/// <summary>A dependency only the service provider supplies.</summary>
public sealed class InvoiceLedger
{
    private int _entries;

    /// <summary>How many invoices were booked through this ledger.</summary>
    public int Entries => Volatile.Read(ref _entries);

    /// <summary>Books one invoice.</summary>
    public void Book() => Interlocked.Increment(ref _entries);
}

/// <summary>Instance handler without a parameterless constructor: needs <c>AddNsqTypedHandlers</c> and a provider.</summary>
public sealed class InvoiceHandler(InvoiceLedger ledger)
{
    public const string Name = "ledger";

    private readonly int _instanceId = TypedDeliveries.NextInstanceId();

    [NsqHandler(Channel = "ledger")]
    public ValueTask OnIssuedAsync(InvoiceIssuedEvent invoice, NsqMessageContext context, CancellationToken cancellationToken)
    {
        ledger.Book();
        TypedDeliveries.Record(invoice.RunId, new TypedDelivery(
            Name, invoice, context.Topic, context.Channel, context.Attempts, cancellationToken.CanBeCanceled, _instanceId, Stopwatch.GetTimestamp()));
        return ValueTask.CompletedTask;
    }
}

/// <summary>Static handler that throws on a message's first attempt.</summary>
public static class FlakyJobs
{
    public const string Name = "retry";

    [NsqHandler(Channel = "retry")]
    public static ValueTask RunAsync(FlakyJob job, NsqMessageContext context, CancellationToken cancellationToken)
    {
        TypedDeliveries.Record(job.RunId, new TypedDelivery(
            Name, job, context.Topic, context.Channel, context.Attempts, cancellationToken.CanBeCanceled, 0, Stopwatch.GetTimestamp()));
        return context.Attempts == 1
            ? throw new InvalidOperationException($"Job {job.Payload} fails on its first attempt.")
            : ValueTask.CompletedTask;
    }
}

/// <summary>Static handler of the deferred topic.</summary>
public static class Reminders
{
    public const string Name = "remind";

    [NsqHandler(Channel = "remind")]
    public static ValueTask OnDueAsync(ReminderDue reminder, NsqMessageContext context)
    {
        TypedDeliveries.Record(reminder.RunId, new TypedDelivery(
            Name, reminder, context.Topic, context.Channel, context.Attempts, null, 0, Stopwatch.GetTimestamp()));
        return ValueTask.CompletedTask;
    }
}
