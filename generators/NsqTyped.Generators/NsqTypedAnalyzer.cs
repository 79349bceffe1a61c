using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace NsqTyped.Generators;

/// <summary>
/// Reports every NSQT diagnostic. Validation lives here rather than in the generator so that
/// diagnostics obey <c>#pragma warning disable</c> and .editorconfig severities, and the generator's
/// cached steps never carry locations.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class NsqTypedAnalyzer : DiagnosticAnalyzer
{
    private static readonly SymbolDisplayFormat DisplayFormat = SymbolDisplayFormat.CSharpErrorMessageFormat;

    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        DiagnosticDescriptors.InvalidTopicName,
        DiagnosticDescriptors.InvalidChannelName,
        DiagnosticDescriptors.DuplicateTopic,
        DiagnosticDescriptors.HandlerMessageNotTopic,
        DiagnosticDescriptors.InvalidHandlerSignature,
        DiagnosticDescriptors.InaccessibleOrGeneric,
        DiagnosticDescriptors.DuplicateHandler,
        DiagnosticDescriptors.JsonTypeNotInContext,
        DiagnosticDescriptors.InvalidRawOrStringType,
        DiagnosticDescriptors.MessagePackNotAvailable,
        DiagnosticDescriptors.NotATopicType);

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(Start);
    }

    private static void Start(CompilationStartAnalysisContext context)
    {
        var compilation = context.Compilation;
        var topicAttribute = compilation.GetTypeByMetadataName(KnownTypes.NsqTopicAttribute);
        var handlerAttribute = compilation.GetTypeByMetadataName(KnownTypes.NsqHandlerAttribute);
        if (topicAttribute is null || handlerAttribute is null)
        {
            return;
        }

        var serialization = SerializationFacts.Read(compilation);
        var topics = new ConcurrentBag<(string Topic, string Type, Location Location)>();
        var handlers = new ConcurrentBag<(string Topic, string Channel, string Handler, Location Location)>();

        context.RegisterSymbolAction(
            c =>
            {
                var type = (INamedTypeSymbol)c.Symbol;
                var attribute = Find(type, topicAttribute);
                if (attribute is null)
                {
                    return;
                }

                var model = ModelReader.ReadTopic(type, attribute, c.ReportDiagnostic);
                if (model is null)
                {
                    return;
                }

                topics.Add((model.TopicName, model.DisplayName, ModelReader.ArgumentLocation(attribute, 0, null, type)));
                serialization.Check(type, model, ModelReader.AttributeLocation(attribute, type), ModelReader.ArgumentLocation(attribute, -1, KnownTypes.TopicFormatProperty, type), c.ReportDiagnostic);
            },
            SymbolKind.NamedType);

        context.RegisterSymbolAction(
            c =>
            {
                var method = (IMethodSymbol)c.Symbol;
                var attribute = Find(method, handlerAttribute);
                if (attribute is null)
                {
                    return;
                }

                var model = ModelReader.ReadHandler(method, attribute, c.ReportDiagnostic);
                if (model is not null)
                {
                    handlers.Add((model.Topic.TopicName, model.Channel, model.HandlerDisplayName, ModelReader.ArgumentLocation(attribute, -1, KnownTypes.HandlerChannelProperty, method)));

                    // A topic type from another assembly is serialized by this assembly's generated code,
                    // so this assembly's JSON context or MessagePack reference must cover it.
                    var messageType = (INamedTypeSymbol)method.Parameters[0].Type;
                    if (!SymbolEqualityComparer.Default.Equals(messageType.ContainingAssembly, c.Compilation.Assembly))
                    {
                        var where = ModelReader.ParameterTypeLocation(method.Parameters[0]) ?? Location.None;
                        serialization.Check(messageType, model.Topic, where, where, c.ReportDiagnostic);
                    }
                }
            },
            SymbolKind.Method);

        context.RegisterOperationAction(c => CheckGenericTypedCall(c, topicAttribute), OperationKind.Invocation);

        context.RegisterCompilationEndAction(c =>
        {
            foreach (var group in topics.GroupBy(static t => t.Topic).Where(static g => g.Count() > 1))
            {
                var members = group.OrderBy(static t => t.Type, System.StringComparer.Ordinal).ToList();
                foreach (var member in members)
                {
                    var other = members.First(m => !m.Location.Equals(member.Location));
                    c.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.DuplicateTopic, member.Location, group.Key, member.Type, other.Type));
                }
            }

            foreach (var group in handlers.GroupBy(static h => (h.Topic, h.Channel)).Where(static g => g.Count() > 1))
            {
                var members = group.OrderBy(static h => h.Handler, System.StringComparer.Ordinal).ToList();
                foreach (var member in members)
                {
                    var other = members.First(m => !m.Location.Equals(member.Location));
                    c.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.DuplicateHandler, member.Location, group.Key.Topic, group.Key.Channel, member.Handler, other.Handler));
                }
            }
        });
    }

    /// <summary>NSQT011: the generated generic calls look their type argument up in the topic table.</summary>
    private static void CheckGenericTypedCall(OperationAnalysisContext context, INamedTypeSymbol topicAttribute)
    {
        var method = ((IInvocationOperation)context.Operation).TargetMethod;
        if (method.TypeArguments.Length != 1 || method.ContainingType is not { } owner ||
            owner.ContainingNamespace?.ToDisplayString() != KnownTypes.GeneratedNamespace ||
            !((owner.Name == KnownTypes.PublisherExtensionsClass && method.Name == "PublishAsync") ||
              (owner.Name == KnownTypes.ReaderExtensionsClass && method.Name == "ReadAllAsync") ||
              (owner.Name == KnownTypes.TopicTableClass && method.Name is "Topic" or "Serializer")))
        {
            return;
        }

        // A type parameter is checked where the generic caller is instantiated with a real type, if ever.
        var argument = method.TypeArguments[0];
        if (argument is ITypeParameterSymbol || Find(argument, topicAttribute) is not null)
        {
            return;
        }

        var syntax = context.Operation.Syntax;
        var location = (syntax as InvocationExpressionSyntax)?.Expression is MemberAccessExpressionSyntax { Name: GenericNameSyntax generic }
            ? generic.TypeArgumentList.Arguments[0].GetLocation()
            : syntax.GetLocation();
        context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.NotATopicType, location, argument.ToDisplayString(DisplayFormat), method.Name + "<T>"));
    }

    private static AttributeData? Find(ISymbol symbol, INamedTypeSymbol attributeType)
    {
        foreach (var attribute in symbol.GetAttributes())
        {
            if (SymbolEqualityComparer.Default.Equals(attribute.AttributeClass, attributeType))
            {
                return attribute;
            }
        }

        return null;
    }

    /// <summary>What the compilation offers to serialize topics: the JSON context and its types, and MessagePack.</summary>
    private sealed class SerializationFacts
    {
        private readonly INamedTypeSymbol? _jsonContext;
        private readonly string? _jsonProblem;
        private readonly HashSet<ITypeSymbol> _jsonTypes;
        private readonly string? _messagePackProblem;

        private SerializationFacts(INamedTypeSymbol? jsonContext, string? jsonProblem, HashSet<ITypeSymbol> jsonTypes, string? messagePackProblem)
        {
            _jsonContext = jsonContext;
            _jsonProblem = jsonProblem;
            _jsonTypes = jsonTypes;
            _messagePackProblem = messagePackProblem;
        }

        public static SerializationFacts Read(Compilation compilation)
        {
            INamedTypeSymbol? jsonContext = null;
            string? jsonProblem = "the assembly names no JSON context: add [assembly: NsqJsonContext(typeof(AppJsonContext))] for a JsonSerializerContext with [JsonSerializable(typeof(...))]";
            string? messagePackProblem = compilation.GetTypeByMetadataName(KnownTypes.NsqMessagePackSerializerMetadata) is null
                ? "the NsqTyped.MessagePack package is not referenced"
                : null;
            var provider = compilation.GetTypeByMetadataName(KnownTypes.NsqMessagePackOptionsProviderMetadata);
            var types = new HashSet<ITypeSymbol>(SymbolEqualityComparer.Default);

            foreach (var attribute in compilation.Assembly.GetAttributes())
            {
                var name = attribute.AttributeClass?.ToDisplayString();
                if (name == KnownTypes.NsqJsonContextAttribute && attribute.ConstructorArguments.Length == 1)
                {
                    if (attribute.ConstructorArguments[0].Value is INamedTypeSymbol context && ModelReader.IsJsonContext(context))
                    {
                        jsonContext = context;
                        jsonProblem = null;
                        foreach (var serializable in context.GetAttributes())
                        {
                            if (serializable.AttributeClass?.ToDisplayString() == KnownTypes.JsonSerializableAttribute &&
                                serializable.ConstructorArguments.Length == 1 &&
                                serializable.ConstructorArguments[0].Value is ITypeSymbol listed)
                            {
                                types.Add(listed);
                            }
                        }
                    }
                    else
                    {
                        jsonProblem = "the type named by [assembly: NsqJsonContext] does not derive from System.Text.Json.Serialization.JsonSerializerContext";
                    }
                }
                else if (name == KnownTypes.NsqMessagePackOptionsAttribute && messagePackProblem is null && attribute.ConstructorArguments.Length == 1 &&
                    !(attribute.ConstructorArguments[0].Value is INamedTypeSymbol options && provider is not null && options.AllInterfaces.Contains(provider, SymbolEqualityComparer.Default)))
                {
                    messagePackProblem = "the type named by [assembly: NsqMessagePackOptions] does not implement NsqTyped.MessagePack.INsqMessagePackOptionsProvider";
                }
            }

            return new SerializationFacts(jsonContext, jsonProblem, types, messagePackProblem);
        }

        public void Check(INamedTypeSymbol type, TopicModel model, Location attributeLocation, Location formatLocation, System.Action<Diagnostic> report)
        {
            if (model.Format == KnownTypes.FormatJson)
            {
                var problem = _jsonProblem;
                if (problem is null && !_jsonTypes.Contains(type))
                {
                    problem = $"'{_jsonContext!.ToDisplayString(DisplayFormat)}' has no [JsonSerializable(typeof({type.ToDisplayString(DisplayFormat)}))]";
                }

                if (problem is not null)
                {
                    report(Diagnostic.Create(DiagnosticDescriptors.JsonTypeNotInContext, attributeLocation, model.DisplayName, problem));
                }
            }
            else if (model.Format == KnownTypes.FormatMessagePack && _messagePackProblem is not null)
            {
                report(Diagnostic.Create(
                    DiagnosticDescriptors.MessagePackNotAvailable,
                    formatLocation,
                    model.DisplayName,
                    _messagePackProblem));
            }
        }
    }
}
