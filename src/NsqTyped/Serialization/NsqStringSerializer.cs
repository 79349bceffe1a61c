using System.Buffers;
using System.Text;

namespace NsqTyped;

/// <summary>Bodies that are UTF-8 text (<see cref="NsqSerializationFormat.String"/>).</summary>
public sealed class NsqStringSerializer : INsqSerializer<string>
{
    // Invalid UTF-8 in a body is an error, not silently replaced with U+FFFD.
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The shared instance.</summary>
    public static NsqStringSerializer Instance { get; } = new();

    private NsqStringSerializer()
    {
    }

    /// <inheritdoc />
    public void Serialize(IBufferWriter<byte> writer, string value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        s_strictUtf8.GetBytes(value.AsSpan(), writer);
    }

    /// <inheritdoc />
    /// <exception cref="DecoderFallbackException">The body is not valid UTF-8.</exception>
    public string Deserialize(ReadOnlySequence<byte> body) => s_strictUtf8.GetString(body);
}

/// <summary>
/// <see cref="NsqSerializationFormat.String"/> bodies of a type wrapping one <c>string</c> member:
/// the generated code passes how to read the member and how to construct the type.
/// </summary>
/// <typeparam name="T">The message type.</typeparam>
public sealed class NsqStringSerializer<T> : INsqSerializer<T>
{
    private readonly Func<T, string> _getText;
    private readonly Func<string, T> _create;

    /// <summary>Creates a serializer from the type's accessor and constructor.</summary>
    /// <param name="getText">Reads the text of a message.</param>
    /// <param name="create">Creates a message from text.</param>
    public NsqStringSerializer(Func<T, string> getText, Func<string, T> create)
    {
        ArgumentNullException.ThrowIfNull(getText);
        ArgumentNullException.ThrowIfNull(create);
        _getText = getText;
        _create = create;
    }

    /// <inheritdoc />
    public void Serialize(IBufferWriter<byte> writer, T value) => NsqStringSerializer.Instance.Serialize(writer, _getText(value));

    /// <inheritdoc />
    public T Deserialize(ReadOnlySequence<byte> body) => _create(NsqStringSerializer.Instance.Deserialize(body));
}
