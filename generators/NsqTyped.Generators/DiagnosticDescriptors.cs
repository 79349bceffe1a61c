using Microsoft.CodeAnalysis;

namespace NsqTyped.Generators;

/// <summary>Every diagnostic NsqTyped reports. The ids are a public contract: docs/diagnostics/NSQTxxx.md documents each.</summary>
public static class DiagnosticDescriptors
{
    private const string Category = "NsqTyped";

    /// <summary>
    /// Where docs/diagnostics/NSQTxxx.md is published; every descriptor's help link points there.
    /// Keep it equal to RepositoryUrl in Directory.Build.props.
    /// </summary>
    public const string HelpLinkBase = "https://github.com/nsqtyped/nsqtyped/blob/main/docs/diagnostics/";

    /// <summary>NSQT001: the [NsqTopic] name breaks nsqd's naming rule.</summary>
    public static readonly DiagnosticDescriptor InvalidTopicName = new(
        "NSQT001",
        "Invalid NSQ topic name",
        "'{0}' is not a valid NSQ topic name: use 1 to 64 characters of [.a-zA-Z0-9_-], optionally ending in '#ephemeral'",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "NSQT001.md",
        description: "nsqd rejects a topic name that is empty, longer than 64 characters, or contains characters other than letters, digits, '.', '_' and '-' (an '#ephemeral' suffix is allowed).");

    /// <summary>NSQT002: the [NsqHandler] channel breaks nsqd's naming rule.</summary>
    public static readonly DiagnosticDescriptor InvalidChannelName = new(
        "NSQT002",
        "Invalid NSQ channel name",
        "'{0}' is not a valid NSQ channel name: use 1 to 64 characters of [.a-zA-Z0-9_-], optionally ending in '#ephemeral'",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "NSQT002.md",
        description: "Every [NsqHandler] needs a Channel that nsqd accepts: 1 to 64 characters of letters, digits, '.', '_' and '-', optionally ending in '#ephemeral'.");

    /// <summary>NSQT003: two types declare one topic.</summary>
    public static readonly DiagnosticDescriptor DuplicateTopic = new(
        "NSQT003",
        "Two types declare the same topic",
        "Topic '{0}' is declared by both '{1}' and '{2}'",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "NSQT003.md",
        description: "A topic carries one message type; two [NsqTopic] types with one name would make handlers deserialize bodies of the other type.",
        customTags: WellKnownDiagnosticTags.CompilationEnd);

    /// <summary>NSQT004: a handler's message type has no [NsqTopic].</summary>
    public static readonly DiagnosticDescriptor HandlerMessageNotTopic = new(
        "NSQT004",
        "Handler message type has no [NsqTopic]",
        "Handler '{0}' takes '{1}', which has no [NsqTopic] attribute, so it has no topic or serializer",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "NSQT004.md",
        description: "The first parameter of an [NsqHandler] method is the message, and its type must carry [NsqTopic] to name the topic and its serialization format.");

    /// <summary>NSQT005: a handler's signature is not one the generator can call.</summary>
    public static readonly DiagnosticDescriptor InvalidHandlerSignature = new(
        "NSQT005",
        "Invalid handler signature",
        "Handler '{0}' has an invalid signature: {1}",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "NSQT005.md",
        description: "A handler is a non-generic method returning ValueTask or Task and taking (TMessage [, NsqMessageContext] [, CancellationToken]) in that order, without ref/out/in.");

    /// <summary>NSQT006: generated code cannot reach a handler or topic type.</summary>
    public static readonly DiagnosticDescriptor InaccessibleOrGeneric = new(
        "NSQT006",
        "Handler or topic type is inaccessible or generic",
        "'{0}' cannot be used by generated code: {1}",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "NSQT006.md",
        description: "Generated code lives in the same assembly and calls handlers and names topic types directly, so they must be at least internal (not private, protected or file-local) and not generic, nor nested in a generic type.");

    /// <summary>NSQT007: two handlers for one topic and channel.</summary>
    public static readonly DiagnosticDescriptor DuplicateHandler = new(
        "NSQT007",
        "Two handlers for one topic and channel",
        "Topic '{0}' on channel '{1}' has more than one handler: '{2}' and '{3}'",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "NSQT007.md",
        description: "nsqd delivers each message of a channel once; two handlers on one topic and channel would each see only part of the messages.",
        customTags: WellKnownDiagnosticTags.CompilationEnd);

    /// <summary>NSQT008: a JSON topic type the JSON context cannot serialize.</summary>
    public static readonly DiagnosticDescriptor JsonTypeNotInContext = new(
        "NSQT008",
        "JSON topic type missing from the JSON context",
        "JSON topic type '{0}' cannot be serialized: {1}",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "NSQT008.md",
        description: "JSON topics are serialized through the source-generated JsonSerializerContext named by [assembly: NsqJsonContext(typeof(...))], which needs [JsonSerializable(typeof(T))] for each JSON topic type.");

    /// <summary>NSQT009: a Raw or String topic type without the one-member shape.</summary>
    public static readonly DiagnosticDescriptor InvalidRawOrStringType = new(
        "NSQT009",
        "Raw or String topic type has no single body member",
        "'{0}' cannot use Format = {1}: it needs a constructor with one {2} parameter and a readable property or field of the same name and type",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "NSQT009.md",
        description: "A Raw topic type wraps one byte[] or ReadOnlyMemory<byte>, a String topic type one string, e.g. record Blob(ReadOnlyMemory<byte> Data).");

    /// <summary>NSQT010: a MessagePack topic without a usable NsqTyped.MessagePack binding.</summary>
    public static readonly DiagnosticDescriptor MessagePackNotAvailable = new(
        "NSQT010",
        "MessagePack serializer not available",
        "'{0}' uses Format = MessagePack but {1}",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "NSQT010.md",
        description: "Format = MessagePack needs a reference to the NsqTyped.MessagePack package, and an [assembly: NsqMessagePackOptions(typeof(T))] type, when present, must implement INsqMessagePackOptionsProvider.");

    /// <summary>NSQT011: a generic typed call (PublishAsync&lt;T&gt;, ReadAllAsync&lt;T&gt;) with a T that is no topic type.</summary>
    public static readonly DiagnosticDescriptor NotATopicType = new(
        "NSQT011",
        "Type argument is not an [NsqTopic] type",
        "'{0}' has no [NsqTopic] attribute, so {1} has no topic or serializer for it",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "NSQT011.md",
        description: "The generic PublishAsync<T> and ReadAllAsync<T> look T up in the assembly's generated topic table, which holds only [NsqTopic] types; any other T would fail at run time.");
}
