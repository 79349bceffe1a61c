using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace NsqTyped.Generators;

/// <summary>
/// Writes the API a user calls by name rather than by position: one accessor per handler, <c>StartAllAsync</c>,
/// and the generic <c>PublishAsync&lt;T&gt;</c> / <c>ReadAllAsync&lt;T&gt;</c> over the topic table.
/// </summary>
internal static class TypedApiEmitter
{
    private const string Task = "global::System.Threading.Tasks.ValueTask";
    private const string Token = "global::System.Threading.CancellationToken";
    private const string Dispatcher = KnownTypes.INsqHandlerDispatcher;

    public static void Emit(SourceProductionContext context, GenerationSpec spec, string generatedCodeAttribute)
    {
        if (spec.Handlers.Count > 0)
        {
            Add(context, "NsqTypedHandlers.Named.g.cs", NamedHandlers(spec));
        }

        Add(context, "NsqTypedTopicTable.g.cs", TopicTable(spec, generatedCodeAttribute));
    }

    /// <summary>
    /// The accessor name of each handler, parallel to <see cref="GenerationSpec.Handlers"/>: <c>Type_Method</c>; when two
    /// handlers share it, <c>Type_Method_Topic</c> (the topic's identifier in <c>NsqTopics</c>), then with the channel added.
    /// Names depend only on the handler itself, never on its position, so adding a handler renames no other.
    /// </summary>
    internal static string[] AccessorNames(GenerationSpec spec)
    {
        var handlers = spec.Handlers;
        var tier1 = handlers.Select(static h => h.Model.ContainingTypeName + "_" + h.Model.MethodName).ToArray();
        var tier2 = handlers.Select((h, i) => tier1[i] + "_" + h.TopicIdentifier).ToArray();
        var tier3 = handlers.Select((h, i) => tier2[i] + "_" + Sanitize(h.Model.Channel)).ToArray();

        // Dispatcher class names live in the same class; a chosen name must never equal one of them.
        var used = new HashSet<string>(handlers.Select(static h => h.DispatcherName), System.StringComparer.Ordinal);
        var names = new string[handlers.Count];
        for (var i = 0; i < names.Length; i++)
        {
            var name = Count(tier1, tier1[i]) == 1 ? tier1[i] : Count(tier2, tier2[i]) == 1 ? tier2[i] : tier3[i];
            var candidate = name;
            for (var n = 2; !used.Add(candidate); n++)
            {
                candidate = name + "_" + n.ToString(CultureInfo.InvariantCulture);
            }

            names[i] = candidate;
        }

        return names;

        static int Count(string[] all, string value) => all.Count(v => v == value);
    }

    // Partial parts of generated classes carry no [GeneratedCode]: the attribute may appear once per class.
    private static string NamedHandlers(GenerationSpec spec)
    {
        var names = AccessorNames(spec);
        var w = Start();
        w.Open("internal static partial class " + KnownTypes.HandlersClass);
        for (var i = 0; i < names.Length; i++)
        {
            var h = spec.Handlers[i].Model;
            w.Line($"/// <summary>The dispatcher of <c>{Xml(h.HandlerDisplayName)}</c>: topic <c>{Xml(h.Topic.TopicName)}</c>, channel <c>{Xml(h.Channel)}</c> (the same instance as in <see cref=\"All\"/>).</summary>");
            w.Line($"public static {Dispatcher} {names[i]} => All[{i.ToString(CultureInfo.InvariantCulture)}];");
            w.Line();
        }

        w.Line("/// <summary>");
        w.Line("/// Starts one <see cref=\"global::NsqTyped.NsqReader\"/> per handler of this assembly with <paramref name=\"options\"/>");
        w.Line("/// (topic and channel come from each handler). Dispose the group to drain: running handlers finish first.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"options\">Settings shared by every Reader; leave Topic and Channel empty.</param>");
        w.Line("/// <param name=\"services\">Where instance handlers are resolved from (a scope per message when it can create scopes); null uses their parameterless constructors.</param>");
        w.Line("/// <param name=\"cancellationToken\">Cancels starting.</param>");
        w.Line($"public static {Task}<{KnownTypes.NsqReaderGroup}> StartAllAsync({KnownTypes.NsqReaderOptions} options, global::System.IServiceProvider? services = null, {Token} cancellationToken = default) =>");
        w.Line($"    {KnownTypes.NsqReaderGroup}.StartAsync(All, options, services, null, cancellationToken);");
        w.Line();
        w.Line("/// <summary>Starts one Reader per handler; instance handlers get their instance from <paramref name=\"handlerFactory\"/>. Dispose the group to drain.</summary>");
        w.Line("/// <param name=\"options\">Settings shared by every Reader; leave Topic and Channel empty.</param>");
        w.Line("/// <param name=\"handlerFactory\">Returns an instance of the handler type it is given.</param>");
        w.Line("/// <param name=\"cancellationToken\">Cancels starting.</param>");
        w.Line($"public static {Task}<{KnownTypes.NsqReaderGroup}> StartAllAsync({KnownTypes.NsqReaderOptions} options, global::System.Func<global::System.Type, object> handlerFactory, {Token} cancellationToken = default) =>");
        w.Line($"    {KnownTypes.NsqReaderGroup}.StartAsync(Create(handlerFactory ?? throw new global::System.ArgumentNullException(nameof(handlerFactory))), options, null, null, cancellationToken);");
        w.Close();
        w.Close();
        return w.ToString();
    }

    private static string TopicTable(GenerationSpec spec, string generatedCodeAttribute)
    {
        var w = Start();
        w.Line("/// <summary>The topic and serializer of each [NsqTopic] type of this assembly, looked up by type (once per type).</summary>");
        w.Line(generatedCodeAttribute);
        w.Open("internal static class " + KnownTypes.TopicTableClass);
        w.Line("/// <summary>The topic of <typeparamref name=\"T\"/>.</summary>");
        w.Line("/// <exception cref=\"global::System.InvalidOperationException\"><typeparamref name=\"T\"/> is not a topic type of this assembly.</exception>");
        w.Line("public static string Topic<T>() => Entry<T>.Topic ?? throw NotATopic(typeof(T));");
        w.Line();
        w.Line("/// <summary>The serializer of <typeparamref name=\"T\"/>.</summary>");
        w.Line("/// <exception cref=\"global::System.InvalidOperationException\"><typeparamref name=\"T\"/> is not a topic type of this assembly.</exception>");
        w.Line($"public static {KnownTypes.INsqSerializer}<T> Serializer<T>() => Entry<T>.Serializer ?? throw NotATopic(typeof(T));");
        w.Line();
        w.Line("private static global::System.InvalidOperationException NotATopic(global::System.Type type) =>");
        w.Line("    new(type + \" is not an [NsqTopic] type of this assembly (NSQT011): declare [NsqTopic] on it, or a handler of it here.\");");
        w.Line();
        w.Open("private static object? Find(global::System.Type type, bool serializer)");
        foreach (var topic in spec.Topics)
        {
            var id = Emitter.Escape(topic.Identifier);
            w.Open($"if (type == typeof({topic.Model.FullyQualifiedName}))");
            w.Line($"return serializer ? global::{KnownTypes.GeneratedNamespace}.{KnownTypes.SerializersClass}.{id} : global::{KnownTypes.GeneratedNamespace}.{KnownTypes.TopicsClass}.{id};");
            w.Close();
            w.Line();
        }

        w.Line("return null;");
        w.Close();
        w.Line();
        w.Open("private static class Entry<T>");
        w.Line("public static readonly string? Topic = Find(typeof(T), false) as string;");
        w.Line();
        w.Line($"public static readonly {KnownTypes.INsqSerializer}<T>? Serializer = Find(typeof(T), true) as {KnownTypes.INsqSerializer}<T>;");
        w.Close();
        w.Close();
        w.Line();

        w.Open("internal static partial class " + KnownTypes.PublisherExtensionsClass);
        w.Line("/// <summary>Publishes <paramref name=\"message\"/> to the topic of <typeparamref name=\"T\"/> (PUB); <typeparamref name=\"T\"/> must be an [NsqTopic] type (NSQT011).</summary>");
        w.Line("/// <typeparam name=\"T\">An [NsqTopic] type of this assembly.</typeparam>");
        w.Line("/// <param name=\"publisher\">The producer or connection.</param>");
        w.Line("/// <param name=\"message\">The message.</param>");
        w.Line("/// <param name=\"cancellationToken\">Cancels waiting for the acknowledgement.</param>");
        w.Line($"public static {Task} PublishAsync<T>(this {KnownTypes.INsqPublisher} publisher, T message, {Token} cancellationToken = default) =>");
        w.Line($"    {KnownTypes.NsqTypedPublishing}.PublishAsync(publisher, {KnownTypes.TopicTable}.Topic<T>(), message, {KnownTypes.TopicTable}.Serializer<T>(), cancellationToken);");
        w.Close();
        w.Line();

        w.Line("/// <summary>Typed pull reading for this assembly's topic types.</summary>");
        w.Line(generatedCodeAttribute);
        w.Open("internal static partial class " + KnownTypes.ReaderExtensionsClass);
        w.Line("/// <summary>");
        w.Line("/// Pull mode, typed: yields each message of a Reader created without a handler, deserialized, with its context.");
        w.Line("/// Answer every message (<c>Context.FinishAsync</c> or <c>RequeueAsync</c>); a body that does not deserialize is requeued and logged.");
        w.Line("/// </summary>");
        w.Line("/// <typeparam name=\"T\">The [NsqTopic] type of the Reader's topic (NSQT011).</typeparam>");
        w.Line("/// <param name=\"reader\">A Reader created with <c>new NsqReader(options)</c> on the topic of <typeparamref name=\"T\"/>.</param>");
        w.Line("/// <param name=\"cancellationToken\">Stops the enumeration (the Reader keeps running).</param>");
        w.Line($"public static global::System.Collections.Generic.IAsyncEnumerable<{KnownTypes.NsqReceived}<T>> ReadAllAsync<T>(this {KnownTypes.NsqReader} reader, {Token} cancellationToken = default) =>");
        w.Line($"    {KnownTypes.NsqTypedReading}.ReadAllAsync(reader, {KnownTypes.TopicTable}.Topic<T>(), {KnownTypes.TopicTable}.Serializer<T>(), null, cancellationToken);");
        w.Close();
        w.Close();
        return w.ToString();
    }

    private static SourceWriter Start()
    {
        var w = new SourceWriter();
        w.Line("// <auto-generated/>");
        w.Line("#nullable enable");
        w.Line();
        w.Open("namespace " + KnownTypes.GeneratedNamespace);
        return w;
    }

    private static void Add(SourceProductionContext context, string hintName, string source) =>
        context.AddSource(hintName, SourceText.From(source, Encoding.UTF8));

    private static string Sanitize(string channel)
    {
        var chars = channel.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (!char.IsLetterOrDigit(chars[i]))
            {
                chars[i] = '_';
            }
        }

        return new string(chars);
    }

    private static string Xml(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
