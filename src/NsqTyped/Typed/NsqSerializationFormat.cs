namespace NsqTyped;

/// <summary>How the body of an <see cref="NsqTopicAttribute">[NsqTopic]</see> type is encoded on the wire.</summary>
public enum NsqSerializationFormat
{
    /// <summary>
    /// UTF-8 JSON through the application's source-generated <c>JsonSerializerContext</c>
    /// named by <see cref="NsqJsonContextAttribute"/> (AOT-safe). The default.
    /// </summary>
    Json = 0,

    /// <summary>MessagePack through the NsqTyped.MessagePack package (<c>NsqMessagePackSerializer&lt;T&gt;</c>).</summary>
    MessagePack = 1,

    /// <summary>
    /// The body is the bytes of the type's single <c>byte[]</c> or <c>ReadOnlyMemory&lt;byte&gt;</c> member,
    /// e.g. <c>record Blob(ReadOnlyMemory&lt;byte&gt; Data)</c>.
    /// </summary>
    Raw = 2,

    /// <summary>The body is the UTF-8 bytes of the type's single <c>string</c> member, e.g. <c>record LogLine(string Text)</c>.</summary>
    String = 3,
}
