using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NsqTyped.Generators.Tests.Support;

namespace NsqTyped.Generators.Tests;

/// <summary>The generator's incremental steps stay cached when nothing relevant changed, and its models hold no compiler objects.</summary>
public sealed class CacheabilityTests
{
    private static readonly string[] TrackedSteps =
    [
        TrackingNames.Topics, TrackingNames.ValidTopics, TrackingNames.AllTopics,
        TrackingNames.Handlers, TrackingNames.ValidHandlers, TrackingNames.AllHandlers,
        TrackingNames.Facts, TrackingNames.Spec,
    ];

    private static CSharpCompilation Sample() =>
        GeneratorHarness.Compile(Sources.JsonTopicsAndHandlers, Sources.JsonContext("OrderCreated", "OrderShippedEvent", "PointsAwarded"), Sources.OtherFormats);

    [Fact]
    public void Second_run_on_a_cloned_compilation_is_cached_or_unchanged_in_every_tracked_step()
    {
        var compilation = Sample();
        var driver = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken);
        var first = driver.GetRunResult().Results.Single();
        Assert.All(TrackedSteps, name => Assert.True(first.TrackedSteps.ContainsKey(name), $"step {name} is not tracked"));

        var second = driver.RunGenerators(compilation.Clone(), TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        AssertAllCached(second, TrackedSteps);
        Assert.Equal(
            first.GeneratedSources.Select(s => s.SourceText.ToString()),
            second.GeneratedSources.Select(s => s.SourceText.ToString()));
    }

    [Fact]
    public void Unrelated_edit_does_not_regenerate()
    {
        var compilation = Sample();
        var driver = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken);

        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText(
            "namespace Other { public sealed class Unrelated { public int Value => 42; } }", GeneratorHarness.ParseOptions, cancellationToken: TestContext.Current.CancellationToken));
        var result = driver.RunGenerators(edited, TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        AssertAllCached(result, [TrackingNames.AllTopics, TrackingNames.AllHandlers, TrackingNames.Facts, TrackingNames.Spec]);
    }

    [Fact]
    public void Editing_a_method_body_in_a_topic_file_does_not_regenerate()
    {
        var compilation = Sample();
        var driver = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken);

        var tree = compilation.SyntaxTrees.First();
        var newText = tree.GetText(TestContext.Current.CancellationToken).ToString().Replace(
            "public string Sender { get; } = sender;", "public string Sender { get; } = sender + \"!\";", StringComparison.Ordinal);
        var edited = compilation.ReplaceSyntaxTree(tree, tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(newText)));
        var result = driver.RunGenerators(edited, TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        AssertAllCached(result, [TrackingNames.AllTopics, TrackingNames.AllHandlers, TrackingNames.Spec]);
    }

    [Fact]
    public void Changing_a_topic_name_regenerates()
    {
        var compilation = Sample();
        var driver = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken);

        var tree = compilation.SyntaxTrees.First();
        var newText = tree.GetText(TestContext.Current.CancellationToken).ToString().Replace("\"orders.created\"", "\"orders.placed\"", StringComparison.Ordinal);
        var edited = compilation.ReplaceSyntaxTree(tree, tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(newText)));
        var result = driver.RunGenerators(edited, TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        Assert.Contains(result.TrackedSteps[TrackingNames.Spec].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains("\"orders.placed\"", result.GeneratedSources.Single(s => s.HintName == "NsqTopics.g.cs").SourceText.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Models_hold_no_symbols_syntax_locations_or_compilations()
    {
        var compilation = Sample();
        var result = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        var visited = 0;
        foreach (var name in TrackedSteps)
        {
            foreach (var output in result.TrackedSteps[name].SelectMany(s => s.Outputs))
            {
                var offending = ModelGraph.FindForbidden(output.Value, name, ref visited);
                Assert.True(offending is null, offending);
            }
        }

        Assert.True(visited > 50, $"the walk visited only {visited} objects");
    }

    [Fact]
    public void Model_graph_walk_detects_a_symbol_nested_in_a_model()
    {
        var compilation = Sample();
        var symbol = compilation.GetTypeByMetadataName("Shop.OrderCreated")!;
        var visited = 0;
        var offending = ModelGraph.FindForbidden(new { Items = new object[] { 1, ("x", new List<object> { symbol }) } }, "probe", ref visited);
        Assert.NotNull(offending);
        Assert.Contains("ISymbol", offending, StringComparison.Ordinal);
    }

    private static void AssertAllCached(GeneratorRunResult result, IEnumerable<string> steps)
    {
        foreach (var name in steps)
        {
            Assert.True(result.TrackedSteps.ContainsKey(name), $"step {name} did not run");
            foreach (var step in result.TrackedSteps[name])
            {
                foreach (var (_, reason) in step.Outputs)
                {
                    Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"step {name} output was {reason}");
                }
            }
        }

        foreach (var step in result.TrackedOutputSteps.SelectMany(s => s.Value))
        {
            foreach (var (_, reason) in step.Outputs)
            {
                Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"source output was {reason}");
            }
        }
    }

    /// <summary>Walks an object graph by reflection and names the first compiler object it finds.</summary>
    private static class ModelGraph
    {
        private static readonly Type[] Forbidden =
        [
            typeof(ISymbol), typeof(Compilation), typeof(SemanticModel), typeof(SyntaxNode), typeof(SyntaxTree), typeof(Location), typeof(AttributeData),
        ];

        public static string? FindForbidden(object? root, string path, ref int visited)
        {
            var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
            var stack = new Stack<(object? Value, string Path)>();
            stack.Push((root, path));
            while (stack.Count > 0)
            {
                var (value, where) = stack.Pop();
                if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum || value is Type)
                {
                    continue;
                }

                if (!value.GetType().IsValueType && !seen.Add(value))
                {
                    continue;
                }

                visited++;
                foreach (var bad in Forbidden)
                {
                    if (bad.IsInstanceOfType(value))
                    {
                        return $"{where} holds a {bad.Name} ({value.GetType().Name})";
                    }
                }

                if (value is IEnumerable items)
                {
                    var i = 0;
                    foreach (var item in items)
                    {
                        stack.Push((item, $"{where}[{i++}]"));
                    }
                }

                for (var type = value.GetType(); type is not null; type = type.BaseType)
                {
                    foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                    {
                        if (field.FieldType.IsPointer || field.FieldType.IsByRefLike)
                        {
                            continue;
                        }

                        stack.Push((field.GetValue(value), $"{where}.{field.Name}"));
                    }
                }
            }

            return null;
        }
    }
}
