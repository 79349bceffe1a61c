using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NsqTyped.Generators;

/// <summary>
/// Turns [NsqTopic] types into typed publish methods, a topic table and serializers, and
/// [NsqHandler] methods into dispatchers with explicit registrations. Invalid declarations are
/// skipped here and reported by <see cref="NsqTypedAnalyzer"/>.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class NsqTypedGenerator : IIncrementalGenerator
{
    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var topics = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                KnownTypes.NsqTopicAttribute,
                static (node, _) => node is TypeDeclarationSyntax,
                static (ctx, _) => ModelReader.ReadTopic((INamedTypeSymbol)ctx.TargetSymbol, ctx.Attributes[0], report: null))
            .WithTrackingName(TrackingNames.Topics)
            .Where(static t => t is not null)
            .Select(static (t, _) => t!)
            .WithTrackingName(TrackingNames.ValidTopics)
            .Collect()
            .Select(static (all, _) => Sorted(all, static t => t.FullyQualifiedName))
            .WithTrackingName(TrackingNames.AllTopics);

        var handlers = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                KnownTypes.NsqHandlerAttribute,
                static (node, _) => node is MethodDeclarationSyntax,
                static (ctx, _) => ModelReader.ReadHandler((IMethodSymbol)ctx.TargetSymbol, ctx.Attributes[0], report: null))
            .WithTrackingName(TrackingNames.Handlers)
            .Where(static h => h is not null)
            .Select(static (h, _) => h!)
            .WithTrackingName(TrackingNames.ValidHandlers)
            .Collect()
            .Select(static (all, _) => Sorted(all, static h => h.HandlerDisplayName + "|" + h.Topic.FullyQualifiedName + "|" + h.Channel))
            .WithTrackingName(TrackingNames.AllHandlers);

        var facts = context.CompilationProvider
            .Select(static (compilation, _) => ModelReader.ReadFacts(compilation))
            .WithTrackingName(TrackingNames.Facts);

        var spec = topics
            .Combine(handlers)
            .Combine(facts)
            .Select(static (input, _) => BuildSpec(input.Left.Left, input.Left.Right, input.Right))
            .WithTrackingName(TrackingNames.Spec);

        context.RegisterSourceOutput(spec, static (output, s) => Emitter.Emit(output, s));
    }

    internal static GenerationSpec BuildSpec(EquatableArray<TopicModel> topics, EquatableArray<HandlerModel> handlers, CompilationFacts facts)
    {
        bool Usable(TopicModel t) => t.Format switch
        {
            KnownTypes.FormatJson => facts.JsonContextFullyQualifiedName is not null,
            KnownTypes.FormatMessagePack => facts.MessagePackAvailable,
            _ => true,
        };

        // Topics declared here plus topic types (possibly from other assemblies) that handlers here consume.
        var byType = new Dictionary<string, TopicModel>(StringComparer.Ordinal);
        foreach (var topic in topics.Concat(handlers.Select(static h => h.Topic)))
        {
            if (Usable(topic) && !byType.ContainsKey(topic.FullyQualifiedName))
            {
                byType.Add(topic.FullyQualifiedName, topic);
            }
        }

        var ordered = byType.Values
            .OrderBy(static t => t.TopicName, StringComparer.Ordinal)
            .ThenBy(static t => t.FullyQualifiedName, StringComparer.Ordinal)
            .ToList();
        var nameCounts = ordered.GroupBy(static t => t.Name, StringComparer.Ordinal).ToDictionary(static g => g.Key, static g => g.Count(), StringComparer.Ordinal);
        var topicSpecs = ordered
            .Select(t => new TopicSpec(t, nameCounts[t.Name] > 1 ? t.QualifiedIdentifier : t.Name, PublishBaseName(t.Name)))
            .ToArray();
        var identifiers = topicSpecs.ToDictionary(static t => t.Model.FullyQualifiedName, static t => t.Identifier, StringComparer.Ordinal);

        var usedNames = new HashSet<string>(StringComparer.Ordinal);
        var handlerSpecs = handlers
            .Where(h => identifiers.ContainsKey(h.Topic.FullyQualifiedName))
            .OrderBy(static h => h.Topic.TopicName, StringComparer.Ordinal)
            .ThenBy(static h => h.Channel, StringComparer.Ordinal)
            .ThenBy(static h => h.ContainingTypeFullyQualifiedName, StringComparer.Ordinal)
            .ThenBy(static h => h.MethodName, StringComparer.Ordinal)
            .ThenBy(static h => h.Topic.FullyQualifiedName, StringComparer.Ordinal)
            .Select(h =>
            {
                var baseName = h.ContainingTypeName + "_" + h.MethodName + "_Dispatcher";
                var name = baseName;
                for (var i = 2; !usedNames.Add(name); i++)
                {
                    name = baseName + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                return new HandlerSpec(h, identifiers[h.Topic.FullyQualifiedName], name);
            })
            .ToArray();

        return new GenerationSpec(new EquatableArray<TopicSpec>(topicSpecs), new EquatableArray<HandlerSpec>(handlerSpecs), facts);
    }

    /// <summary>
    /// The <c>{Name}</c> of <c>Publish{Name}Async</c>: the type name without one trailing <c>Message</c>
    /// or <c>Event</c> (<c>OrderCreatedEvent</c> → <c>OrderCreated</c>), unless that would leave nothing.
    /// </summary>
    internal static string PublishBaseName(string typeName)
    {
        foreach (var suffix in new[] { "Message", "Event" })
        {
            if (typeName.Length > suffix.Length && typeName.EndsWith(suffix, StringComparison.Ordinal))
            {
                return typeName.Substring(0, typeName.Length - suffix.Length);
            }
        }

        return typeName;
    }

    private static EquatableArray<T> Sorted<T>(ImmutableArray<T> items, Func<T, string> key)
        where T : IEquatable<T> =>
        new(items.OrderBy(key, StringComparer.Ordinal).ToArray());
}

/// <summary>Names of the tracked pipeline steps (for incremental-cache tests).</summary>
public static class TrackingNames
{
    /// <summary>[NsqTopic] types read into models (null when invalid).</summary>
    public const string Topics = nameof(Topics);

    /// <summary>Valid topic models.</summary>
    public const string ValidTopics = nameof(ValidTopics);

    /// <summary>All topic models, sorted.</summary>
    public const string AllTopics = nameof(AllTopics);

    /// <summary>[NsqHandler] methods read into models (null when invalid).</summary>
    public const string Handlers = nameof(Handlers);

    /// <summary>Valid handler models.</summary>
    public const string ValidHandlers = nameof(ValidHandlers);

    /// <summary>All handler models, sorted.</summary>
    public const string AllHandlers = nameof(AllHandlers);

    /// <summary>Compilation facts (JSON context, MessagePack, DI).</summary>
    public const string Facts = nameof(Facts);

    /// <summary>The final emission spec.</summary>
    public const string Spec = nameof(Spec);
}
