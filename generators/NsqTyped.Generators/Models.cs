namespace NsqTyped.Generators;

// Pipeline models: strings, bools, ints and EquatableArray only (no symbols, syntax, locations or
// compilations), so unchanged inputs compare equal and the generator's steps stay cached.

/// <summary>How a Raw/String topic type exposes its single body member.</summary>
internal enum BodyMemberKind
{
    None = 0,
    ReadOnlyMemory = 1,
    ByteArray = 2,
    String = 3,
}

/// <summary>A valid [NsqTopic] type.</summary>
internal sealed record TopicModel(
    string FullyQualifiedName,
    string DisplayName,
    string Name,
    string QualifiedIdentifier,
    string TopicName,
    int Format,
    BodyMemberKind BodyMemberKind,
    string? BodyMemberName,
    bool BodyMemberNullable);

/// <summary>A valid [NsqHandler] method.</summary>
internal sealed record HandlerModel(
    TopicModel Topic,
    string Channel,
    string ContainingTypeFullyQualifiedName,
    string ContainingTypeName,
    string MethodName,
    string HandlerDisplayName,
    bool IsStatic,
    bool ReturnsTask,
    bool TakesContext,
    bool TakesCancellationToken,
    bool CanConstruct,
    bool CanRegister,
    string? DeadLetterTopic = null);

/// <summary>The few facts about the compilation the output depends on.</summary>
internal sealed record CompilationFacts(
    string? JsonContextFullyQualifiedName,
    bool MessagePackAvailable,
    string? MessagePackOptionsProviderFullyQualifiedName,
    bool DependencyInjectionAvailable);

/// <summary>A topic as emitted: its model plus the identifiers chosen for it.</summary>
internal sealed record TopicSpec(TopicModel Model, string Identifier, string PublishBaseName);

/// <summary>A handler as emitted: its model plus the identifiers chosen for it.</summary>
internal sealed record HandlerSpec(HandlerModel Model, string TopicIdentifier, string DispatcherName);

/// <summary>Everything one run emits.</summary>
internal sealed record GenerationSpec(EquatableArray<TopicSpec> Topics, EquatableArray<HandlerSpec> Handlers, CompilationFacts Facts);
