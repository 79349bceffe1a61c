using Microsoft.CodeAnalysis;
using NsqTyped.Generators.Tests.Support;

namespace NsqTyped.Generators.Tests;

/// <summary>Handlers for topic types declared in a referenced assembly.</summary>
public sealed class CrossAssemblyTests
{
    // "LibEvent" also shows the suffix rule: its publish method is PublishLibAsync.
    private const string Library = """
        namespace Lib
        {
            [NsqTyped.NsqTopic("lib.events")]
            public sealed record LibEvent(string Id);
        }
        """;

    private const string App = """
        using System.Threading.Tasks;
        using NsqTyped;

        namespace Shop
        {
            public static class Handlers
            {
                [NsqHandler(Channel = "app")]
                public static ValueTask OnLibEvent([|Lib.LibEvent|] e) => default;
            }
        }
        """;

    [Fact]
    public async Task Handler_of_a_referenced_topic_type_gets_serializer_topic_entry_and_dispatcher_in_the_app()
    {
        var (source, _) = Markup.Parse(App);
        var compilation = GeneratorHarness.Compile(source, Sources.JsonContext("Lib.LibEvent")).AddReferences(LibraryReference());

        var (result, output) = GeneratorHarness.Run(compilation);

        var sources = GeneratorHarness.Sources(result);
        Assert.Contains("public const string LibEvent = \"lib.events\";", sources["NsqTopics.g.cs"], StringComparison.Ordinal);
        Assert.Contains("Handlers_OnLibEvent_Dispatcher", sources["NsqTypedHandlers.g.cs"], StringComparison.Ordinal);
        Assert.Contains("PublishLibAsync(", sources["NsqTypedPublisherExtensions.g.cs"], StringComparison.Ordinal);
        Assert.True(GeneratorHarness.CompilerDiagnostics(output).IsEmpty, GeneratorHarness.Describe(GeneratorHarness.CompilerDiagnostics(output)));
        Assert.Empty(await GeneratorHarness.AnalyzeAsync(output));
    }

    [Fact]
    public async Task Referenced_JSON_topic_type_missing_from_the_apps_context_is_reported_on_the_handler_parameter()
    {
        var (source, spans) = Markup.Parse(App);
        var compilation = GeneratorHarness.Compile(source, Sources.JsonContext()).AddReferences(LibraryReference());

        var diagnostic = Assert.Single(await GeneratorHarness.AnalyzeAsync(compilation));

        Assert.Equal("NSQT008", diagnostic.Id);
        Assert.Equal(spans[0], diagnostic.Location.SourceSpan);
    }

    private static MetadataReference LibraryReference()
    {
        var library = GeneratorHarness.CompileAssembly("Lib", Library);
        using var image = new MemoryStream();
        var emitted = library.Emit(image, cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(emitted.Success, GeneratorHarness.Describe(emitted.Diagnostics));
        return MetadataReference.CreateFromImage(image.ToArray());
    }
}
