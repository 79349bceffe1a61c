using MessagePack;

namespace NsqTyped.MessagePack;

/// <summary>
/// Supplies the <see cref="MessagePackSerializerOptions"/> for an assembly's MessagePack topics;
/// name the implementing type in <see cref="NsqMessagePackOptionsAttribute"/>. The generated code
/// reads <see cref="Options"/> once, statically: no reflection.
/// </summary>
/// <example>
/// <code>
/// [assembly: NsqMessagePackOptions(typeof(AppMessagePack))]
///
/// internal sealed class AppMessagePack : INsqMessagePackOptionsProvider
/// {
///     public static MessagePackSerializerOptions Options { get; } =
///         MessagePackSerializerOptions.Standard.WithResolver(AppResolver.Instance);
/// }
/// </code>
/// </example>
public interface INsqMessagePackOptionsProvider
{
    /// <summary>The options every MessagePack topic of the assembly uses.</summary>
    static abstract MessagePackSerializerOptions Options { get; }
}
