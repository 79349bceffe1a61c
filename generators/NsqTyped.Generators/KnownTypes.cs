namespace NsqTyped.Generators;

/// <summary>
/// Every runtime type the generator and analyzer recognise or emit, by name: the generator
/// references no runtime assembly, so these strings are the whole contract with it.
/// </summary>
internal static class KnownTypes
{
    // Metadata names (for GetTypeByMetadataName / ForAttributeWithMetadataName).
    public const string NsqTopicAttribute = "NsqTyped.NsqTopicAttribute";
    public const string NsqHandlerAttribute = "NsqTyped.NsqHandlerAttribute";
    public const string NsqJsonContextAttribute = "NsqTyped.NsqJsonContextAttribute";
    public const string NsqMessageContextMetadata = "NsqTyped.NsqMessageContext";
    public const string NsqMessagePackSerializerMetadata = "NsqTyped.MessagePack.NsqMessagePackSerializer`1";
    public const string NsqMessagePackOptionsAttribute = "NsqTyped.MessagePack.NsqMessagePackOptionsAttribute";
    public const string NsqMessagePackOptionsProviderMetadata = "NsqTyped.MessagePack.INsqMessagePackOptionsProvider";
    public const string JsonSerializableAttribute = "System.Text.Json.Serialization.JsonSerializableAttribute";
    public const string JsonSerializerContextMetadata = "System.Text.Json.Serialization.JsonSerializerContext";
    public const string IServiceCollectionMetadata = "Microsoft.Extensions.DependencyInjection.IServiceCollection";
    public const string ServiceCollectionDescriptorExtensionsMetadata = "Microsoft.Extensions.DependencyInjection.Extensions.ServiceCollectionDescriptorExtensions";

    // Attribute property names.
    public const string TopicFormatProperty = "Format";
    public const string HandlerChannelProperty = "Channel";
    public const string HandlerDeadLetterTopicProperty = "DeadLetterTopic";

    // Values of NsqTyped.NsqSerializationFormat.
    public const int FormatJson = 0;
    public const int FormatMessagePack = 1;
    public const int FormatRaw = 2;
    public const int FormatString = 3;

    // Fully qualified names used in emitted code.
    public const string INsqPublisher = "global::NsqTyped.INsqPublisher";
    public const string INsqSerializer = "global::NsqTyped.INsqSerializer";
    public const string INsqHandlerDispatcher = "global::NsqTyped.INsqHandlerDispatcher";
    public const string NsqMessage = "global::NsqTyped.NsqMessage";
    public const string NsqMessageContext = "global::NsqTyped.NsqMessageContext";
    public const string NsqTypedPublishing = "global::NsqTyped.NsqTypedPublishing";
    public const string NsqTypedDispatching = "global::NsqTyped.NsqTypedDispatching";
    public const string NsqJsonSerializer = "global::NsqTyped.NsqJsonSerializer";
    public const string NsqRawSerializer = "global::NsqTyped.NsqRawSerializer";
    public const string NsqStringSerializer = "global::NsqTyped.NsqStringSerializer";
    public const string NsqReader = "global::NsqTyped.NsqReader";
    public const string NsqReaderOptions = "global::NsqTyped.NsqReaderOptions";
    public const string NsqReaderGroup = "global::NsqTyped.NsqReaderGroup";
    public const string NsqReceived = "global::NsqTyped.NsqReceived";
    public const string NsqTypedReading = "global::NsqTyped.NsqTypedReading";
    public const string TopicTable = "global::NsqTyped." + TopicTableClass;
    public const string NsqMessagePackSerializer = "global::NsqTyped.MessagePack.NsqMessagePackSerializer";
    public const string IServiceCollection = "global::Microsoft.Extensions.DependencyInjection.IServiceCollection";
    public const string ServiceDescriptor = "global::Microsoft.Extensions.DependencyInjection.ServiceDescriptor";
    public const string ServiceCollectionDescriptorExtensions = "global::Microsoft.Extensions.DependencyInjection.Extensions.ServiceCollectionDescriptorExtensions";

    // Names of the generated types.
    public const string GeneratedNamespace = "NsqTyped";
    public const string TopicsClass = "NsqTopics";
    public const string SerializersClass = "NsqTypedSerializers";
    public const string PublisherExtensionsClass = "NsqTypedPublisherExtensions";
    public const string HandlersClass = "NsqTypedHandlers";
    public const string TopicTableClass = "NsqTypedTopicTable";
    public const string ReaderExtensionsClass = "NsqTypedReaderExtensions";
    public const string ServiceCollectionExtensionsClass = "NsqTypedServiceCollectionExtensions";
}
