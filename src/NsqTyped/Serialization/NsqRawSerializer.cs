using System.Buffers;

namespace NsqTyped;

/// <summary>Bodies that are bytes as they are (<see cref="NsqSerializationFormat.Raw"/>).</summary>
public sealed class NsqRawSerializer : INsqSerializer<ReadOnlyMemory<byte>>, INsqSerializer<byte[]>
{
    /// <summary>The shared instance.</summary>
    public static NsqRawSerializer Instance { get; } = new();

    private NsqRawSerializer()
    {
    }

    /// <inheritdoc />
    public void Serialize(IBufferWriter<byte> writer, ReadOnlyMemory<byte> value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(value.Span);
    }

    /// <inheritdoc />
    /// <remarks>A single-segment body (what the consumer delivers) is returned without a copy: it is owned by its message.</remarks>
    public ReadOnlyMemory<byte> Deserialize(ReadOnlySequence<byte> body) => body.IsSingleSegment ? body.First : body.ToArray();

    /// <inheritdoc />
    public void Serialize(IBufferWriter<byte> writer, byte[] value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.Write(value);
    }

    /// <inheritdoc />
    /// <remarks>Always copies, since the array may be kept and changed by the handler.</remarks>
    byte[] INsqSerializer<byte[]>.Deserialize(ReadOnlySequence<byte> body) => body.ToArray();
}

/// <summary>
/// <see cref="NsqSerializationFormat.Raw"/> bodies of a type wrapping one <c>ReadOnlyMemory&lt;byte&gt;</c>
/// (or <c>byte[]</c>) member: the generated code passes how to read the member and how to construct the type.
/// </summary>
/// <typeparam name="T">The message type.</typeparam>
public sealed class NsqRawSerializer<T> : INsqSerializer<T>
{
    private readonly Func<T, ReadOnlyMemory<byte>> _getBytes;
    private readonly Func<ReadOnlyMemory<byte>, T> _create;

    /// <summary>Creates a serializer from the type's accessor and constructor.</summary>
    /// <param name="getBytes">Reads the bytes of a message.</param>
    /// <param name="create">Creates a message from a body.</param>
    public NsqRawSerializer(Func<T, ReadOnlyMemory<byte>> getBytes, Func<ReadOnlyMemory<byte>, T> create)
    {
        ArgumentNullException.ThrowIfNull(getBytes);
        ArgumentNullException.ThrowIfNull(create);
        _getBytes = getBytes;
        _create = create;
    }

    /// <inheritdoc />
    public void Serialize(IBufferWriter<byte> writer, T value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(_getBytes(value).Span);
    }

    /// <inheritdoc />
    public T Deserialize(ReadOnlySequence<byte> body) => _create(NsqRawSerializer.Instance.Deserialize(body));
}
