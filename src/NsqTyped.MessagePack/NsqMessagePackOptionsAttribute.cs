namespace NsqTyped.MessagePack;

/// <summary>
/// Names the <see cref="INsqMessagePackOptionsProvider"/> whose options the assembly's
/// <see cref="NsqSerializationFormat.MessagePack"/> topics use. Without it they use
/// <see cref="global::MessagePack.MessagePackSerializer.DefaultOptions"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = false, Inherited = false)]
public sealed class NsqMessagePackOptionsAttribute : Attribute
{
    /// <summary>Names the provider type.</summary>
    /// <param name="providerType">A type implementing <see cref="INsqMessagePackOptionsProvider"/>.</param>
    public NsqMessagePackOptionsAttribute(Type providerType)
    {
        ProviderType = providerType;
    }

    /// <summary>The provider type.</summary>
    public Type ProviderType { get; }
}
