using System.Buffers;
using System.ComponentModel;

namespace NsqTyped;

/// <summary>
/// The runtime behind the generated <c>Publish{Name}Async</c> / <c>ManyAsync</c> / <c>DeferredAsync</c>
/// extension methods: serializes into a pooled, ArrayPool-backed buffer, publishes it, and returns the
/// buffer once the publish completed. Call the generated methods rather than these.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class NsqTypedPublishing
{
    /// <summary>Serializes <paramref name="message"/> and publishes it to <paramref name="topic"/> (PUB).</summary>
    /// <typeparam name="T">The topic's message type.</typeparam>
    /// <param name="publisher">The producer or connection.</param>
    /// <param name="topic">The topic name.</param>
    /// <param name="message">The message.</param>
    /// <param name="serializer">The topic's serializer.</param>
    /// <param name="cancellationToken">Cancels waiting for the acknowledgement.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static async ValueTask PublishAsync<T>(INsqPublisher publisher, string topic, T message, INsqSerializer<T> serializer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(serializer);
        if (message is null)
        {
            throw new ArgumentNullException(nameof(message));
        }

        var buffer = NsqPooledBufferWriter.Rent();
        try
        {
            serializer.Serialize(buffer, message);
            await publisher.PublishAsync(topic, buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            buffer.Return();
        }
    }

    /// <summary>Serializes <paramref name="message"/> and publishes it with a delivery delay (DPUB).</summary>
    /// <typeparam name="T">The topic's message type.</typeparam>
    /// <param name="publisher">The producer or connection.</param>
    /// <param name="topic">The topic name.</param>
    /// <param name="message">The message.</param>
    /// <param name="delay">Delay before nsqd delivers the message.</param>
    /// <param name="serializer">The topic's serializer.</param>
    /// <param name="cancellationToken">Cancels waiting for the acknowledgement.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    public static async ValueTask PublishDeferredAsync<T>(INsqPublisher publisher, string topic, T message, TimeSpan delay, INsqSerializer<T> serializer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(serializer);
        if (message is null)
        {
            throw new ArgumentNullException(nameof(message));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        var buffer = NsqPooledBufferWriter.Rent();
        try
        {
            serializer.Serialize(buffer, message);
            await publisher.PublishDeferredAsync(topic, buffer.WrittenMemory, delay, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            buffer.Return();
        }
    }

    /// <summary>Serializes every message into one pooled buffer and publishes them atomically (MPUB).</summary>
    /// <typeparam name="T">The topic's message type.</typeparam>
    /// <param name="publisher">The producer or connection.</param>
    /// <param name="topic">The topic name.</param>
    /// <param name="messages">At least one message; none null.</param>
    /// <param name="serializer">The topic's serializer.</param>
    /// <param name="cancellationToken">Cancels waiting for the acknowledgement.</param>
    /// <exception cref="ArgumentNullException">An argument or one of the messages is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="messages"/> is empty.</exception>
    public static async ValueTask PublishManyAsync<T>(INsqPublisher publisher, string topic, IEnumerable<T> messages, INsqSerializer<T> serializer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(serializer);

        var buffer = NsqPooledBufferWriter.Rent();
        var bodies = NsqPooledBodyList.Rent(messages.TryGetNonEnumeratedCount(out var known) ? known : 16);
        try
        {
            // Lists are indexed rather than enumerated: an interface enumerator would be the batch's only allocation.
            if (messages is IReadOnlyList<T> list)
            {
                for (var i = 0; i < list.Count; i++)
                {
                    Add(list[i], buffer, bodies, serializer);
                }
            }
            else
            {
                foreach (var message in messages)
                {
                    Add(message, buffer, bodies, serializer);
                }
            }

            if (bodies.Count == 0)
            {
                throw new ArgumentException("A batch needs at least one message (MPUB).", nameof(messages));
            }

            // Slices are cut only after the last write: growing the buffer moves the bytes.
            bodies.Slice(buffer.WrittenMemory);
            await publisher.PublishManyAsync(topic, bodies, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            bodies.Return();
            buffer.Return();
        }

        static void Add(T message, NsqPooledBufferWriter buffer, NsqPooledBodyList bodies, INsqSerializer<T> serializer)
        {
            if (message is null)
            {
                throw new ArgumentNullException(nameof(messages), $"Message {bodies.Count} of the batch is null.");
            }

            serializer.Serialize(buffer, message);
            bodies.AddEnd(buffer.WrittenCount);
        }
    }
}
