using NsqTyped;

namespace Quickstart;

/// <summary>
/// Two handlers of one topic on two channels: NSQ gives every channel its own copy of each message.
/// The generator turns each <c>[NsqHandler]</c> method into a dispatcher that deserializes the body and calls it.
/// </summary>
public sealed class OrderHandlers(Progress progress)
{
    [NsqHandler(Channel = "billing")]
    public ValueTask BillAsync(OrderPlaced order, CancellationToken cancellationToken)
    {
        progress.Handled("billing", order.RunId, $"order {order.Number}", $"bill {order.Customer} {order.Total:0.00}");
        return ValueTask.CompletedTask;
    }

    [NsqHandler(Channel = "shipping")]
    public async ValueTask ShipAsync(OrderPlaced order, NsqMessageContext context, CancellationToken cancellationToken)
    {
        // The context gives the raw message: id, delivery attempts, and TOUCH/REQ/FIN for handlers that decide themselves.
        await Task.Delay(10, cancellationToken);
        progress.Handled("shipping", order.RunId, $"order {order.Number}", $"ship order {order.Number} (message {context.Id}, attempt {context.Attempts})");
    }
}

/// <summary>A static handler needs no instance at all.</summary>
public static class AuditHandlers
{
    /// <summary>Set by Program before the readers start.</summary>
    public static Progress? Progress { get; set; }

    [NsqHandler(Channel = "archive")]
    public static ValueTask ArchiveAsync(AuditLine line)
    {
        var space = line.Text.IndexOf(' ', StringComparison.Ordinal);
        var runId = space > 0 ? line.Text[..space] : "";
        Progress?.Handled("archive", runId, line.Text[(space + 1)..], $"audit \"{line.Text[(space + 1)..]}\"");
        return ValueTask.CompletedTask;
    }
}
