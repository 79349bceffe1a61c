using System.Collections.Concurrent;

namespace NsqTyped.Generators.Tests.Runtime;

/// <summary>Instance handlers: every test gets its own instance through a factory or a service provider.</summary>
public sealed class RecordingHandlers
{
    public ConcurrentQueue<object> Received { get; } = new();

    public ConcurrentQueue<NsqMessageContext> Contexts { get; } = new();

    public CancellationToken LastToken { get; private set; }

    [NsqHandler(Channel = "billing")]
    public ValueTask OnOrderCreatedAsync(OrderCreated order, NsqMessageContext context, CancellationToken cancellationToken)
    {
        Received.Enqueue(order);
        Contexts.Enqueue(context);
        LastToken = cancellationToken;
        return ValueTask.CompletedTask;
    }

    [NsqHandler(Channel = "refunds")]
    public async Task OnOrderCancelledAsync(OrderCancelledEvent cancelled, NsqMessageContext context)
    {
        await Task.Yield();
        if (cancelled.Reason == "retry-later")
        {
            await context.RequeueAsync(TimeSpan.FromSeconds(3), backoff: false);
            return;
        }

        if (cancelled.Reason == "boom")
        {
            throw new InvalidOperationException("handler failed for " + cancelled.OrderId);
        }

        Received.Enqueue(cancelled);
    }

    [NsqHandler(Channel = "inventory")]
    public ValueTask OnStockChanged(StockChanged change)
    {
        Received.Enqueue(change);
        return ValueTask.CompletedTask;
    }

    [NsqHandler(Channel = "storage")]
    public ValueTask OnBlob(Blob blob)
    {
        Received.Enqueue(blob.Data.ToArray());
        return ValueTask.CompletedTask;
    }
}

/// <summary>A static handler: needs no instance at all.</summary>
public static class StaticLogHandlers
{
    public static ConcurrentQueue<string> Lines { get; } = new();

    [NsqHandler(Channel = "archive")]
    public static ValueTask OnLine(LogLine line)
    {
        Lines.Enqueue(line.Text);
        return ValueTask.CompletedTask;
    }
}

/// <summary>An instance handler with a parameterless constructor: runs without DI or a factory.</summary>
public sealed class SelfContainedHandler
{
    public static ConcurrentQueue<string> Seen { get; } = new();

    /// <summary>Which instance handled each line.</summary>
    public static ConcurrentDictionary<string, SelfContainedHandler> HandledBy { get; } = new();

    [NsqHandler(Channel = "self", DeadLetterTopic = "log.lines.dead")]
    public ValueTask OnLine(LogLine line)
    {
        Seen.Enqueue(line.Text);
        HandledBy[line.Text] = this;
        return ValueTask.CompletedTask;
    }
}

/// <summary>An instance handler without a parameterless constructor: needs DI or a factory.</summary>
public sealed class DependentHandler(RecordingHandlers inner)
{
    [NsqHandler(Channel = "dependent")]
    public ValueTask OnOrderCreated(OrderCreated order)
    {
        inner.Received.Enqueue(order);
        return ValueTask.CompletedTask;
    }
}
