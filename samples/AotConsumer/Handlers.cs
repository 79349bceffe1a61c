using NsqTyped;

namespace AotConsumer;

/// <summary>
/// An instance handler: <c>AddNsqTypedHandlers()</c> registers it as scoped, and its dispatcher resolves
/// it (with its <see cref="Tally"/>) from the scope the sample creates for each message.
/// </summary>
internal sealed class OrderHandlers(Tally tally)
{
    [NsqHandler(Channel = "aot-consumer")]
    public ValueTask OnOrderPlacedAsync(OrderPlaced order, NsqMessageContext context, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (tally.Arrived(order.RunId, $"order {order.Number}"))
        {
            Console.WriteLine($"[{context.Topic}/{context.Channel}] order #{order.Number}, total {order.Total} (attempt {context.Attempts})");
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>Static handlers: their dispatchers need no instance at all.</summary>
internal static class NotificationHandlers
{
    /// <summary>Where the static handlers record what arrived; set once before the readers start.</summary>
    public static Tally? Tally { get; set; }

    [NsqHandler(Channel = "aot-consumer")]
    public static Task OnReminderDueAsync(ReminderDue reminder, NsqMessageContext context)
    {
        if (Tally!.Arrived(reminder.RunId, "reminder"))
        {
            var after = DateTimeOffset.UtcNow - reminder.PublishedAt;
            Console.WriteLine($"[{context.Topic}/{context.Channel}] reminder \"{reminder.Text}\" arrived {after.TotalMilliseconds:0} ms after it was published");
        }

        return Task.CompletedTask;
    }

    [NsqHandler(Channel = "aot-consumer")]
    public static ValueTask OnLogLineAsync(LogLine line, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var space = line.Text.IndexOf(' ', StringComparison.Ordinal);
        var runId = space < 0 ? line.Text : line.Text[..space];
        if (Tally!.Arrived(runId, "log " + line.Text[(space + 1)..]))
        {
            Console.WriteLine($"[aot.log/aot-consumer] {line.Text[(space + 1)..]}");
        }

        return ValueTask.CompletedTask;
    }
}
