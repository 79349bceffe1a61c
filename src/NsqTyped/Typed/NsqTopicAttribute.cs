namespace NsqTyped;

/// <summary>
/// Declares that a record, class or struct is the message of an NSQ topic. The NsqTyped generator
/// turns it into typed publish methods on <see cref="INsqPublisher"/>
/// (<c>Publish{Name}Async</c>, <c>Publish{Name}ManyAsync</c>, <c>Publish{Name}DeferredAsync</c>),
/// an entry of the <c>NsqTopics</c> name table, and the serializer that
/// <see cref="NsqHandlerAttribute">[NsqHandler]</see> dispatchers use.
/// </summary>
/// <example>
/// <code>
/// [NsqTopic("orders.created")]
/// public sealed record OrderCreated(string OrderId, decimal Total);
///
/// await producer.PublishOrderCreatedAsync(new OrderCreated("A-1", 10m));
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
public sealed class NsqTopicAttribute : Attribute
{
    /// <summary>Declares the topic <paramref name="name"/> for the annotated type.</summary>
    /// <param name="name">1 to 64 characters of <c>[.a-zA-Z0-9_-]</c>, optionally ending in <c>#ephemeral</c> (checked at compile time, NSQT001).</param>
    public NsqTopicAttribute(string name)
    {
        Name = name;
    }

    /// <summary>The topic name.</summary>
    public string Name { get; }

    /// <summary>How message bodies are encoded; <see cref="NsqSerializationFormat.Json"/> by default.</summary>
    public NsqSerializationFormat Format { get; set; } = NsqSerializationFormat.Json;
}
