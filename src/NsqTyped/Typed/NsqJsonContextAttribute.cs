using System.Text.Json.Serialization;

namespace NsqTyped;

/// <summary>
/// Names the application's source-generated <see cref="JsonSerializerContext"/> that serializes the
/// assembly's <see cref="NsqSerializationFormat.Json"/> topics. Every JSON topic type must appear in
/// a <c>[JsonSerializable(typeof(T))]</c> of that context (checked at compile time, NSQT008).
/// </summary>
/// <example>
/// <code>
/// [assembly: NsqJsonContext(typeof(AppJsonContext))]
///
/// [JsonSerializable(typeof(OrderCreated))]
/// internal partial class AppJsonContext : JsonSerializerContext;
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = false, Inherited = false)]
public sealed class NsqJsonContextAttribute : Attribute
{
    /// <summary>Names the context type.</summary>
    /// <param name="contextType">A <see cref="JsonSerializerContext"/> subclass with the source-generated <c>Default</c> instance.</param>
    public NsqJsonContextAttribute(Type contextType)
    {
        ContextType = contextType;
    }

    /// <summary>The context type.</summary>
    public Type ContextType { get; }
}
