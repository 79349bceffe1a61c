using System.Buffers;

namespace NsqTyped;

/// <summary>
/// Turns a topic's message type into message bodies and back. The generator binds one per
/// <see cref="NsqTopicAttribute">[NsqTopic]</see> type at compile time from its
/// <see cref="NsqTopicAttribute.Format"/>; no reflection is involved.
/// </summary>
/// <typeparam name="T">The message type.</typeparam>
public interface INsqSerializer<T>
{
    /// <summary>Writes the body of <paramref name="value"/> to <paramref name="writer"/>.</summary>
    /// <param name="writer">Where the body goes (a pooled buffer when publishing).</param>
    /// <param name="value">The message.</param>
    void Serialize(IBufferWriter<byte> writer, T value);

    /// <summary>Reads a message from a body.</summary>
    /// <param name="body">The message body.</param>
    /// <returns>The message.</returns>
    /// <exception cref="Exception">The body is not a valid encoding of <typeparamref name="T"/> (the exception type depends on the format).</exception>
    T Deserialize(ReadOnlySequence<byte> body);
}
