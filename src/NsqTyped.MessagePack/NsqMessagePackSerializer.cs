using System.Buffers;
using MessagePack;

namespace NsqTyped.MessagePack;

/// <summary>
/// MessagePack bodies (<see cref="NsqSerializationFormat.MessagePack"/>). The generated code creates
/// one per topic type with the options of the assembly's <see cref="NsqMessagePackOptionsAttribute"/>,
/// or with <see langword="null"/> options, meaning <see cref="MessagePackSerializer.DefaultOptions"/> at the time of each call.
/// </summary>
/// <remarks>
/// MessagePack's default resolvers build formatters with dynamic code. Under NativeAOT pass options
/// whose resolver is AOT-safe (generated or hand-written formatters), through
/// <see cref="NsqMessagePackOptionsAttribute"/> or by setting <see cref="MessagePackSerializer.DefaultOptions"/> at startup.
/// </remarks>
/// <typeparam name="T">The message type.</typeparam>
public sealed class NsqMessagePackSerializer<T> : INsqSerializer<T>
{
    private readonly MessagePackSerializerOptions? _options;

    /// <summary>Creates a serializer.</summary>
    /// <param name="options">The options (resolver, compression, security); <see langword="null"/> uses <see cref="MessagePackSerializer.DefaultOptions"/> at each call.</param>
    public NsqMessagePackSerializer(MessagePackSerializerOptions? options = null)
    {
        _options = options;
    }

    /// <summary>The options in use.</summary>
    public MessagePackSerializerOptions Options => _options ?? MessagePackSerializer.DefaultOptions;

    /// <inheritdoc />
    public void Serialize(IBufferWriter<byte> writer, T value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        MessagePackSerializer.Serialize(writer, value, Options);
    }

    /// <inheritdoc />
    /// <exception cref="MessagePackSerializationException">The body is not MessagePack for <typeparamref name="T"/>, or is nil for a reference type.</exception>
    public T Deserialize(ReadOnlySequence<byte> body)
    {
        var value = MessagePackSerializer.Deserialize<T>(body, Options);
        return value ?? throw new MessagePackSerializationException($"The message body is MessagePack nil, not a {typeof(T)}.");
    }
}
