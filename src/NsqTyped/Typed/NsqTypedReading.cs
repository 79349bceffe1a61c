using System.Buffers;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace NsqTyped;

/// <summary>
/// The runtime behind the generated <c>ReadAllAsync&lt;T&gt;()</c>: reads a pull-mode <see cref="NsqReader"/> and
/// deserializes each message with the topic's compile-time serializer. Call the generated method rather than this.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class NsqTypedReading
{
    /// <summary>
    /// Yields the Reader's messages deserialized. A body that does not deserialize is requeued (with backoff, so
    /// the Reader gives up on it after <see cref="NsqReaderOptions.MaxTries"/>), reported to
    /// <paramref name="onInvalidBody"/>, and not yielded.
    /// </summary>
    /// <typeparam name="T">The topic's message type.</typeparam>
    /// <param name="reader">A Reader created without a handler, on <paramref name="topic"/>.</param>
    /// <param name="topic">The topic of <typeparamref name="T"/>.</param>
    /// <param name="serializer">The serializer of <typeparamref name="T"/>.</param>
    /// <param name="onInvalidBody">Told about each body that failed to deserialize; <see langword="null"/> logs a warning
    /// (EventId 1300) through the Reader's <see cref="NsqReaderOptions.LoggerFactory"/>.</param>
    /// <param name="cancellationToken">Stops the enumeration (the Reader keeps running).</param>
    /// <exception cref="ArgumentException">The Reader reads another topic than the one of <typeparamref name="T"/>.</exception>
    public static IAsyncEnumerable<NsqReceived<T>> ReadAllAsync<T>(
        NsqReader reader,
        string topic,
        INsqSerializer<T> serializer,
        Action<NsqMessage, Exception>? onInvalidBody = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(serializer);
        if (reader.Options.Topic != topic)
        {
            throw new ArgumentException($"The Reader reads topic '{reader.Options.Topic}', but {typeof(T)} is published to '{topic}'.", nameof(reader));
        }

        return Read(reader, topic, serializer, onInvalidBody, cancellationToken);
    }

    private static async IAsyncEnumerable<NsqReceived<T>> Read<T>(
        NsqReader reader,
        string topic,
        INsqSerializer<T> serializer,
        Action<NsqMessage, Exception>? onInvalidBody,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = reader.Options.Channel;
        var loggerFactory = reader.Options.LoggerFactory ?? reader.Options.Connection.LoggerFactory;
        var logger = onInvalidBody is null ? loggerFactory?.CreateLogger(reader.Name) : null;
        await foreach (var message in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            T value;
            try
            {
                value = serializer.Deserialize(new ReadOnlySequence<byte>(message.Body));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                if (onInvalidBody is not null)
                {
                    onInvalidBody(message, ex);
                }
                else if (logger is not null)
                {
                    TypedLog.InvalidBody(logger, reader.Name, message.Id.ToString(), message.Attempts, typeof(T).Name, ex);
                }

                await message.RequeueAsync(null, backoff: true, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            yield return new NsqReceived<T>(value, new NsqMessageContext(message, topic, channel));
        }
    }
}
