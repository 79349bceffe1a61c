using System.Text;
using NsqTyped.Generators.Tests.Support;

namespace NsqTyped.Generators.Tests;

/// <summary>Golden output for representative inputs; each output also compiles clean under nullable + warnings-as-errors.</summary>
public sealed class SnapshotTests
{
    [Fact]
    public Task Json_topics_and_static_and_instance_handlers() =>
        Verify("JsonTopicsAndHandlers", Sources.JsonTopicsAndHandlers, Sources.JsonContext("OrderCreated", "OrderShippedEvent", "PointsAwarded"));

    [Fact]
    public Task MessagePack_raw_and_string_topics() =>
        Verify("OtherFormats", Sources.OtherFormats);

    [Fact]
    public Task Types_with_one_simple_name_get_namespace_qualified_identifiers() =>
        Verify("NameCollisions", Sources.NameCollisions, Sources.JsonContext("Shop.Billing.Order", "Shop.Billing.OrderMany", "Shop.Shipping.Order", "Shop.Shipping.Outer.Message"));

    [Fact]
    public void A_compilation_without_topics_or_handlers_gets_no_sources()
    {
        var (result, _) = GeneratorHarness.Run(GeneratorHarness.Compile("namespace Shop { public sealed class Plain { } }"));
        Assert.Empty(result.GeneratedTrees);
    }

    [Fact]
    public async Task Topics_without_handlers_get_an_empty_registry_and_compile_clean()
    {
        var compilation = GeneratorHarness.Compile(
            "namespace Shop { [NsqTyped.NsqTopic(\"orders.created\")] public sealed record OrderCreated(string Id); }",
            Sources.JsonContext("OrderCreated"));
        var (result, output) = GeneratorHarness.Run(compilation);

        Assert.Contains("global::System.Array.Empty<global::NsqTyped.INsqHandlerDispatcher>()", GeneratorHarness.Sources(result)["NsqTypedHandlers.g.cs"], StringComparison.Ordinal);
        Assert.True(GeneratorHarness.CompilerDiagnostics(output).IsEmpty, GeneratorHarness.Describe(GeneratorHarness.CompilerDiagnostics(output)));
        Assert.Empty(await GeneratorHarness.AnalyzeAsync(output));
    }

    [Fact]
    public void Without_the_DI_abstractions_no_AddNsqTypedHandlers_is_generated_and_the_rest_compiles()
    {
        var compilation = GeneratorHarness.Compile(Sources.JsonTopicsAndHandlers, Sources.JsonContext("OrderCreated", "OrderShippedEvent", "PointsAwarded"));
        var di = compilation.References.Single(r => r.Display?.EndsWith("Microsoft.Extensions.DependencyInjection.Abstractions.dll", StringComparison.Ordinal) == true);
        var (result, output) = GeneratorHarness.Run(compilation.RemoveReferences(di));

        Assert.DoesNotContain("NsqTypedServiceCollectionExtensions.g.cs", GeneratorHarness.Sources(result).Keys);
        Assert.True(GeneratorHarness.CompilerDiagnostics(output).IsEmpty, GeneratorHarness.Describe(GeneratorHarness.CompilerDiagnostics(output)));
    }

    private static async Task Verify(string name, params string[] sources)
    {
        var compilation = GeneratorHarness.Compile(sources);
        var (result, output) = GeneratorHarness.Run(compilation);

        var compilerDiagnostics = GeneratorHarness.CompilerDiagnostics(output);
        Assert.True(compilerDiagnostics.IsEmpty, GeneratorHarness.Describe(compilerDiagnostics));
        var analyzerDiagnostics = await GeneratorHarness.AnalyzeAsync(output);
        Assert.True(analyzerDiagnostics.IsEmpty, GeneratorHarness.Describe(analyzerDiagnostics));

        var text = new StringBuilder();
        foreach (var (hint, source) in GeneratorHarness.Sources(result))
        {
            text.Append("//------------------------------ ").Append(hint).Append('\n');
            text.Append(source);
        }

        Snapshot.Match(name, text.ToString());
    }
}
