using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace NsqTyped;

/// <summary>
/// JSON bodies through a source-generated <see cref="JsonTypeInfo{T}"/> (AOT- and trim-safe).
/// Used by the generated code for <see cref="NsqSerializationFormat.Json"/> topics.
/// </summary>
/// <typeparam name="T">The message type.</typeparam>
public sealed class NsqJsonSerializer<T> : INsqSerializer<T>
{
    // One writer per thread and type: Reset(IBufferWriter) re-targets it, so publishing allocates no writer.
    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    [ThreadStatic]
    private static NsqJsonSerializer<T>? t_writerOwner;

    private readonly JsonWriterOptions _writerOptions;
    private readonly JsonReaderOptions _readerOptions;
    private readonly JsonTypeInfo<T> _readTypeInfo;

    /// <summary>Creates a serializer over <paramref name="typeInfo"/>.</summary>
    /// <param name="typeInfo">Metadata from a source-generated context, e.g. <c>AppJsonContext.Default.OrderCreated</c>.</param>
    public NsqJsonSerializer(JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        TypeInfo = typeInfo;
        var options = typeInfo.Options;
        _readTypeInfo = StrictReadTypeInfo(typeInfo);
        _writerOptions = new JsonWriterOptions
        {
            Encoder = options.Encoder,
            Indented = options.WriteIndented,
            IndentCharacter = options.IndentCharacter,
            IndentSize = options.IndentSize,
            NewLine = options.NewLine,
            MaxDepth = options.MaxDepth,
            // As System.Text.Json does for its own writers: the serializer produces valid JSON by construction.
            SkipValidation = true,
        };
        _readerOptions = new JsonReaderOptions
        {
            AllowTrailingCommas = options.AllowTrailingCommas,
            CommentHandling = options.ReadCommentHandling,
            MaxDepth = options.MaxDepth,
        };
    }

    /// <summary>
    /// Reading respects nullable annotations whatever the context says: JSON <c>null</c> in a property or
    /// constructor parameter declared non-nullable is a <see cref="JsonException"/>, never a null reaching
    /// the handler. The same resolver (the source-generated context) supplies the metadata, so this stays
    /// AOT-safe; when the options cannot be copied (a resolver without a context) the metadata is used as is.
    /// </summary>
    private static JsonTypeInfo<T> StrictReadTypeInfo(JsonTypeInfo<T> typeInfo)
    {
        var options = typeInfo.Options;
        if (options.RespectNullableAnnotations || options.TypeInfoResolver is null)
        {
            return typeInfo;
        }

        var strict = new JsonSerializerOptions(options) { RespectNullableAnnotations = true };
        return strict.GetTypeInfo(typeof(T)) as JsonTypeInfo<T> ?? typeInfo;
    }

    /// <summary>The type metadata in use.</summary>
    public JsonTypeInfo<T> TypeInfo { get; }

    /// <summary>Creates a serializer from the metadata <paramref name="context"/> holds for <typeparamref name="T"/>.</summary>
    /// <param name="context">A source-generated context with <c>[JsonSerializable(typeof(T))]</c>.</param>
    /// <exception cref="InvalidOperationException"><paramref name="context"/> has no metadata for <typeparamref name="T"/>.</exception>
    public static NsqJsonSerializer<T> FromContext(JsonSerializerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.GetTypeInfo(typeof(T)) is JsonTypeInfo<T> info
            ? new NsqJsonSerializer<T>(info)
            : throw new InvalidOperationException($"{context.GetType()} has no metadata for {typeof(T)}: add [JsonSerializable(typeof({typeof(T).Name}))] to it.");
    }

    /// <inheritdoc />
    public void Serialize(IBufferWriter<byte> writer, T value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        // Taken out of the slot while in use: a serializer re-entered on this thread gets its own writer.
        var json = ReferenceEquals(t_writerOwner, this) ? t_writer : null;
        t_writer = null;
        if (json is null)
        {
            json = new Utf8JsonWriter(writer, _writerOptions);
        }
        else
        {
            json.Reset(writer);
        }

        try
        {
            JsonSerializer.Serialize(json, value, TypeInfo);
            json.Flush();
        }
        finally
        {
            json.Reset();
            t_writer = json;
            t_writerOwner = this;
        }
    }

    /// <inheritdoc />
    /// <exception cref="JsonException">The body is not JSON for <typeparamref name="T"/>, or is JSON <c>null</c> for a reference type.</exception>
    public T Deserialize(ReadOnlySequence<byte> body)
    {
        var reader = new Utf8JsonReader(body, _readerOptions);
        var value = JsonSerializer.Deserialize(ref reader, _readTypeInfo);
        return value ?? throw new JsonException($"The message body is JSON null, not a {typeof(T)}.");
    }
}
