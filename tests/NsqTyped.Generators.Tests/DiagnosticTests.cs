using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NsqTyped.Generators.Tests.Support;

namespace NsqTyped.Generators.Tests;

/// <summary>
/// One test per diagnostic id: it is reported exactly at the marked spans (the offending attribute
/// argument, parameter or return type), nothing else is reported, and <c>#pragma warning disable</c> suppresses it.
/// </summary>
public sealed class DiagnosticTests
{
    private const string Usings = """
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using NsqTyped;

        """;

    // A valid topic every case may use; the JSON context lists it.
    private const string Common = """
        namespace Shop
        {
            [NsqTyped.NsqTopic("orders.created")]
            public sealed record OrderCreated(string Id);
        }
        """;

    [Fact]
    public Task NSQT001_invalid_topic_name_is_reported_on_the_name_argument() => Expect("NSQT001", """
        namespace Shop
        {
            [NsqTopic([|"orders created"|])]
            public sealed record Spaced(string Id);

            [NsqTopic(name: [|"#ephemeral"|])]
            public sealed record OnlySuffix(string Id);

            [NsqTopic([|"a123456789a123456789a123456789a123456789a123456789a123456789abcde"|])]
            public sealed record TooLong(string Id);
        }
        """);

    [Fact]
    public Task NSQT001_invalid_dead_letter_topic_is_reported_on_its_argument() => Expect("NSQT001", """
        namespace Shop
        {
            public static class Handlers
            {
                [NsqHandler(Channel = "billing", DeadLetterTopic = [|"dead letters"|])]
                public static ValueTask A(OrderCreated order) => default;

                [NsqHandler(Channel = "audit", DeadLetterTopic = "")]
                public static ValueTask B(OrderCreated order) => default;
            }
        }
        """);

    [Fact]
    public Task NSQT002_invalid_or_missing_channel_is_reported_on_the_channel_argument() => Expect("NSQT002", """
        namespace Shop
        {
            public static class Handlers
            {
                [NsqHandler(Channel = [|"bad channel!"|])]
                public static ValueTask A(OrderCreated order) => default;

                [[|NsqHandler|]]
                public static ValueTask B(OrderCreated order) => default;
            }
        }
        """);

    [Fact]
    public Task NSQT003_two_types_with_one_topic_are_both_reported() => Expect("NSQT003", """
        namespace Shop
        {
            [NsqTopic([|"orders.created"|])]
            public sealed record OrderCreatedAgain(string Id);
        }
        """, extraCommonSpan: true, jsonTypes: ["OrderCreated", "OrderCreatedAgain"]);

    [Fact]
    public Task NSQT004_handler_message_without_NsqTopic_is_reported_on_the_parameter_type() => Expect("NSQT004", """
        namespace Shop
        {
            public sealed record NotATopic(string Id);

            public static class Handlers
            {
                [NsqHandler(Channel = "c")]
                public static ValueTask A([|NotATopic|] message) => default;

                [NsqHandler(Channel = "c")]
                public static Task B([|string|] text, CancellationToken cancellationToken) => Task.CompletedTask;
            }
        }
        """);

    [Fact]
    public Task NSQT005_bad_handler_signatures_are_reported_where_they_are_wrong() => Expect("NSQT005", """
        namespace Shop
        {
            public static class Handlers
            {
                [NsqHandler(Channel = "a")]
                public static async [|void|] AsyncVoid(OrderCreated order) => await Task.Yield();

                [NsqHandler(Channel = "b")]
                public static [|int|] ReturnsInt(OrderCreated order) => 0;

                [NsqHandler(Channel = "c")]
                public static ValueTask WrongOrder(OrderCreated order, CancellationToken cancellationToken, [|NsqMessageContext context|]) => default;

                [NsqHandler(Channel = "d")]
                public static ValueTask Extra(OrderCreated order, [|int retries|]) => default;

                [NsqHandler(Channel = "e")]
                public static ValueTask Generic[|<T>|](OrderCreated order) => default;

                [NsqHandler(Channel = "f")]
                public static ValueTask NoMessage[|()|] => default;

                [NsqHandler(Channel = "g")]
                public static ValueTask ByRef([|in OrderCreated order|]) => default;

                [NsqHandler(Channel = "h")]
                public static [|Task<int>|] ReturnsTaskOfInt(OrderCreated order) => Task.FromResult(0);
            }
        }
        """);

    [Fact]
    public Task NSQT006_inaccessible_or_generic_handler_types_and_topic_types_are_reported() => Expect("NSQT006", """
        namespace Shop
        {
            public sealed class Outer
            {
                private static class Hidden
                {
                    [[|NsqHandler(Channel = "a")|]]
                    public static ValueTask A(OrderCreated order) => default;
                }

                [[|NsqTopic("hidden.topic")|]]
                private sealed record HiddenTopic(string Id);
            }

            public sealed class Generic<T>
            {
                [[|NsqHandler(Channel = "b")|]]
                public static ValueTask B(OrderCreated order) => default;
            }

            public sealed class PrivateMethod
            {
                [[|NsqHandler(Channel = "c")|]]
                private static ValueTask C(OrderCreated order) => default;
            }

            [[|NsqTopic("generic.topic")|]]
            public sealed record GenericTopic<T>(T Value);
        }
        """);

    [Fact]
    public Task NSQT007_two_handlers_for_one_topic_and_channel_are_both_reported() => Expect("NSQT007", """
        namespace Shop
        {
            public static class First
            {
                [NsqHandler(Channel = [|"billing"|])]
                public static ValueTask A(OrderCreated order) => default;

                [NsqHandler(Channel = "other")]
                public static ValueTask B(OrderCreated order) => default;
            }

            public sealed class Second
            {
                [NsqHandler(Channel = [|"billing"|])]
                public ValueTask C(OrderCreated order, CancellationToken cancellationToken) => default;
            }
        }
        """);

    [Fact]
    public Task NSQT008_JSON_topic_missing_from_the_context_is_reported_on_the_attribute() => Expect("NSQT008", """
        namespace Shop
        {
            [[|NsqTopic("orders.paid")|]]
            public sealed record OrderPaid(string Id);
        }
        """);

    [Fact]
    public async Task NSQT008_JSON_topic_without_any_context_is_reported()
    {
        var (source, spans) = Markup.Parse(Usings + """
            namespace Shop
            {
                [[|NsqTopic("orders.paid")|]]
                public sealed record OrderPaid(string Id);
            }
            """);
        var diagnostics = await GeneratorHarness.AnalyzeAsync(GeneratorHarness.Compile(source));
        var diagnostic = Assert.Single(diagnostics);
        Assert.Equal("NSQT008", diagnostic.Id);
        Assert.Equal(spans[0], diagnostic.Location.SourceSpan);
        Assert.Contains("names no JSON context", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public Task NSQT009_raw_or_string_type_without_a_single_body_member_is_reported_on_Format() => Expect("NSQT009", """
        namespace Shop
        {
            [NsqTopic("raw.numbers", Format = [|NsqSerializationFormat.Raw|])]
            public sealed record Numbers(int Value);

            [NsqTopic("texts", Format = [|NsqSerializationFormat.String|])]
            public sealed record Bytes(byte[] Data);

            [NsqTopic("texts.two", Format = [|NsqSerializationFormat.String|])]
            public sealed class NoProperty
            {
                public NoProperty(string text) { }
            }
        }
        """);

    [Fact]
    public Task NSQT010_MessagePack_options_type_that_is_not_a_provider_is_reported_on_Format() => Expect("NSQT010", """
        [assembly: NsqTyped.MessagePack.NsqMessagePackOptions(typeof(Shop.NotAProvider))]

        namespace Shop
        {
            public sealed class NotAProvider { }

            [NsqTopic("stock", Format = [|NsqSerializationFormat.MessagePack|])]
            public sealed class Stock { }
        }
        """);

    [Fact]
    public async Task NSQT010_MessagePack_topic_without_the_package_is_reported()
    {
        var (source, spans) = Markup.Parse(Usings + """
            namespace Shop
            {
                [NsqTopic("stock", Format = [|NsqSerializationFormat.MessagePack|])]
                public sealed class Stock { }
            }
            """);
        var compilation = GeneratorHarness.Compile(source);
        var messagePack = compilation.References.Single(r => r.Display?.EndsWith("NsqTyped.MessagePack.dll", StringComparison.Ordinal) == true);
        var diagnostics = await GeneratorHarness.AnalyzeAsync(compilation.RemoveReferences(messagePack));
        var diagnostic = Assert.Single(diagnostics);
        Assert.Equal("NSQT010", diagnostic.Id);
        Assert.Equal(spans[0], diagnostic.Location.SourceSpan);
    }

    [Fact]
    public async Task Generator_emits_nothing_for_invalid_declarations_and_the_rest_still_compiles()
    {
        var (source, _) = Markup.Parse(Usings + """
            namespace Shop
            {
                [NsqTopic("bad name")]
                public sealed record Bad(string Id);

                public static class Handlers
                {
                    [NsqHandler(Channel = "ok")]
                    public static ValueTask Good(OrderCreated order) => default;

                    [NsqHandler(Channel = "ok2")]
                    public static int Wrong(OrderCreated order) => 0;
                }
            }
            """);
        var compilation = GeneratorHarness.Compile(source, Common, Sources.JsonContext("OrderCreated", "Bad"));
        var (result, output) = GeneratorHarness.Run(compilation);

        var handlers = GeneratorHarness.Sources(result)["NsqTypedHandlers.g.cs"];
        Assert.Contains("Handlers_Good_Dispatcher", handlers, StringComparison.Ordinal);
        Assert.DoesNotContain("Wrong", handlers, StringComparison.Ordinal);
        Assert.DoesNotContain("Bad", GeneratorHarness.Sources(result)["NsqTopics.g.cs"], StringComparison.Ordinal);
        var diagnostics = GeneratorHarness.CompilerDiagnostics(output);
        Assert.True(diagnostics.IsEmpty, GeneratorHarness.Describe(diagnostics));
        var analyzer = await GeneratorHarness.AnalyzeAsync(output);
        Assert.Equal(["NSQT001", "NSQT005"], analyzer.Select(d => d.Id).Order().ToArray());
    }

    [Fact]
    public async Task NSQT011_generic_typed_calls_with_a_type_that_is_not_a_topic_are_reported_on_the_type_argument()
    {
        var (source, spans) = Markup.Parse(Usings + """
            namespace Shop
            {
                public static class App
                {
                    public static async Task Run(INsqPublisher publisher, NsqReader reader)
                    {
                        await publisher.PublishAsync(new OrderCreated("fine"));
                        await publisher.PublishAsync<OrderCreated>(new OrderCreated("fine too"));
                        await publisher.PublishAsync<[|string|]>("no topic");
                        await foreach (var item in reader.ReadAllAsync<[|Uri|]>()) { }
                        await foreach (var item in reader.ReadAllAsync<OrderCreated>()) { }
                        _ = NsqTypedTopicTable.Topic<[|int|]>();
                    }

                    // Checked where it is instantiated with a real type, not here.
                    public static ValueTask Forward<T>(INsqPublisher publisher, T message) => publisher.PublishAsync(message);
                }
            }
            """);
        var (_, output) = GeneratorHarness.Run(GeneratorHarness.Compile(source, Common, Sources.JsonContext("OrderCreated")));
        Assert.True(GeneratorHarness.CompilerDiagnostics(output).IsEmpty, GeneratorHarness.Describe(GeneratorHarness.CompilerDiagnostics(output)));

        var diagnostics = await GeneratorHarness.AnalyzeAsync(output);

        Assert.All(diagnostics, d => Assert.Equal("NSQT011", d.Id));
        Assert.Equal(spans.OrderBy(s => s.Start), diagnostics.Select(d => d.Location.SourceSpan).OrderBy(s => s.Start));
        Assert.Contains(
            "'string' has no [NsqTopic] attribute, so PublishAsync<T> has no topic or serializer for it",
            diagnostics.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void Help_links_point_into_the_repository_the_packages_name()
    {
        var props = File.ReadAllText(Path.Combine(Repository.Root(), "Directory.Build.props"));
        var url = System.Text.RegularExpressions.Regex.Match(props, "<RepositoryUrl>([^<]+)</RepositoryUrl>").Groups[1].Value;

        Assert.Equal(DiagnosticDescriptors.HelpLinkBase, url + "/blob/main/docs/diagnostics/");
    }

    [Fact]
    public void Every_diagnostic_links_to_its_page_in_docs_diagnostics()
    {
        var docs = Path.Combine(Repository.Root(), "docs", "diagnostics");
        var descriptors = new NsqTypedAnalyzer().SupportedDiagnostics;

        Assert.NotEmpty(descriptors);
        Assert.All(descriptors, d =>
        {
            Assert.Equal(DiagnosticDescriptors.HelpLinkBase + d.Id + ".md", d.HelpLinkUri);
            Assert.True(File.Exists(Path.Combine(docs, d.Id + ".md")), $"docs/diagnostics/{d.Id}.md is missing");
        });
    }

    /// <summary>
    /// Asserts that the analyzer reports <paramref name="id"/> exactly at the marked spans and
    /// nothing else, then that a <c>#pragma warning disable</c> suppresses every one of them.
    /// </summary>
    private static async Task Expect(string id, string markup, bool extraCommonSpan = false, string[]? jsonTypes = null)
    {
        var (source, spans) = Markup.Parse(Usings + markup);
        var context = Sources.JsonContext(jsonTypes ?? ["OrderCreated"]);
        var compilation = GeneratorHarness.Compile(source, Common, context);
        var diagnostics = await GeneratorHarness.AnalyzeAsync(compilation);

        Assert.All(diagnostics, d => Assert.Equal(id, d.Id));
        Assert.All(diagnostics, d => Assert.False(d.IsSuppressed));
        var inSource = diagnostics.Where(d => d.Location.SourceTree == compilation.SyntaxTrees.First()).Select(d => d.Location.SourceSpan).OrderBy(s => s.Start).ToArray();
        Assert.Equal(spans.OrderBy(s => s.Start).ToArray(), inSource);
        if (extraCommonSpan)
        {
            var common = Assert.Single(diagnostics, d => d.Location.SourceTree == compilation.SyntaxTrees.ElementAt(1));
            Assert.Equal("\"orders.created\"", common.Location.SourceTree!.GetText().ToString(common.Location.SourceSpan));
        }
        else
        {
            Assert.Equal(spans.Count, diagnostics.Length);
        }

        // Every diagnostic is an error: the compilation would fail without the pragma.
        Assert.All(diagnostics, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));

        var suppressedCommon = $"#pragma warning disable {id}\n" + Common;
        var suppressed = GeneratorHarness.Compile($"#pragma warning disable {id}\n" + source, suppressedCommon, context);
        var after = await GeneratorHarness.AnalyzeAsync(suppressed);
        Assert.Equal(diagnostics.Length, after.Length);
        Assert.All(after, d => Assert.True(d.IsSuppressed, d.ToString()));
    }
}
