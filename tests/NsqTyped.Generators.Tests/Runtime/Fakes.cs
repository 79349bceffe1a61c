using System.Collections.Concurrent;
using NsqTyped.Protocol;

namespace NsqTyped.Generators.Tests.Runtime;

/// <summary>Records what typed publishing hands to the raw publisher (bodies copied, since their buffers are pooled).</summary>
internal sealed class RecordingPublisher : INsqPublisher
{
    public List<(string Verb, string Topic, byte[][] Bodies, TimeSpan Delay)> Calls { get; } = [];

    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        Calls.Add(("PUB", topic, [body.ToArray()], TimeSpan.Zero));
        return ValueTask.CompletedTask;
    }

    public ValueTask PublishManyAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, CancellationToken cancellationToken = default)
    {
        Calls.Add(("MPUB", topic, bodies.Select(b => b.ToArray()).ToArray(), TimeSpan.Zero));
        return ValueTask.CompletedTask;
    }

    public ValueTask PublishDeferredAsync(string topic, ReadOnlyMemory<byte> body, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        Calls.Add(("DPUB", topic, [body.ToArray()], delay));
        return ValueTask.CompletedTask;
    }
}

/// <summary>Records FIN/REQ/TOUCH of messages built by <see cref="Message"/>.</summary>
internal sealed class RecordingResponder : INsqMessageResponder
{
    public ConcurrentQueue<string> Responses { get; } = new();

    public NsqMessage Message(byte[] body, ushort attempts = 1) =>
        new(NsqMessageId.Parse("0123456789abcdef"), attempts, 1_700_000_000_000_000_000, body, this);

    public ValueTask FinishAsync(NsqMessage message, CancellationToken cancellationToken)
    {
        Responses.Enqueue($"FIN {message.Id}");
        return ValueTask.CompletedTask;
    }

    public ValueTask RequeueAsync(NsqMessage message, TimeSpan delay, bool backoff, CancellationToken cancellationToken)
    {
        Responses.Enqueue($"REQ {message.Id} {delay.TotalMilliseconds} {backoff}");
        return ValueTask.CompletedTask;
    }

    public ValueTask TouchAsync(NsqMessage message, CancellationToken cancellationToken)
    {
        Responses.Enqueue($"TOUCH {message.Id}");
        return ValueTask.CompletedTask;
    }
}

/// <summary>A minimal service provider: the test project has only the DI abstractions.</summary>
internal sealed class DictionaryServiceProvider(Dictionary<Type, object> services) : IServiceProvider
{
    public object? GetService(Type serviceType) => services.GetValueOrDefault(serviceType);
}
