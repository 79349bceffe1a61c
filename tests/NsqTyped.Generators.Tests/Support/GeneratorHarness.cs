using System.Collections.Immutable;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace NsqTyped.Generators.Tests.Support;

/// <summary>Compiles test sources against .NET 10 and the real NsqTyped assemblies, and runs the generator and analyzer on them.</summary>
internal static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    private static readonly ImmutableArray<MetadataReference> References = BuildReferences();

    /// <summary>Nullable on, every warning an error: what the generated code must survive.</summary>
    public static readonly CSharpCompilationOptions CompilationOptions = new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary)
        .WithNullableContextOptions(NullableContextOptions.Enable)
        .WithGeneralDiagnosticOption(ReportDiagnostic.Error)
        .WithWarningLevel(9999)
        // CS1591 (missing XML docs on public members) concerns the test sources, not the generated code;
        // CS1701/CS1702 (MessagePack's netstandard-era System.Runtime reference) are suppressed by the SDK too.
        .WithSpecificDiagnosticOptions(
        [
            new KeyValuePair<string, ReportDiagnostic>("CS1591", ReportDiagnostic.Suppress),
            new KeyValuePair<string, ReportDiagnostic>("CS1701", ReportDiagnostic.Suppress),
            new KeyValuePair<string, ReportDiagnostic>("CS1702", ReportDiagnostic.Suppress),
        ]);

    public static CSharpCompilation Compile(params string[] sources) => CompileAssembly("TestApp", sources);

    public static CSharpCompilation CompileAssembly(string assemblyName, params string[] sources) =>
        CSharpCompilation.Create(
            assemblyName,
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Source{i}.cs")),
            References,
            CompilationOptions);

    public static GeneratorDriver CreateDriver() =>
        CSharpGeneratorDriver.Create(
            [new NsqTypedGenerator().AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator; returns the run result and the compilation including generated sources.</summary>
    public static (GeneratorDriverRunResult Result, Compilation Output) Run(CSharpCompilation compilation)
    {
        var driver = CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
        Assert.Empty(generatorDiagnostics);
        return (driver.GetRunResult(), output);
    }

    /// <summary>All generated sources, keyed by hint name.</summary>
    public static SortedDictionary<string, string> Sources(GeneratorDriverRunResult result) =>
        new(result.Results.Single().GeneratedSources.ToDictionary(s => s.HintName, s => s.SourceText.ToString()), StringComparer.Ordinal);

    /// <summary>Runs the analyzer, keeping suppressed diagnostics (marked <see cref="Diagnostic.IsSuppressed"/>).</summary>
    public static async Task<ImmutableArray<Diagnostic>> AnalyzeAsync(Compilation compilation)
    {
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions([]),
            onAnalyzerException: null,
            concurrentAnalysis: true,
            logAnalyzerExecutionTime: false,
            reportSuppressedDiagnostics: true);
        var withAnalyzers = compilation.WithAnalyzers([new NsqTypedAnalyzer()], options);
        var diagnostics = await withAnalyzers.GetAllDiagnosticsAsync(TestContext.Current.CancellationToken);
        return diagnostics.Where(d => d.Id.StartsWith("NSQT", StringComparison.Ordinal) || d.Id == "AD0001").ToImmutableArray();
    }

    /// <summary>Compiler diagnostics worth failing on (hidden ones such as unused usings are not).</summary>
    public static ImmutableArray<Diagnostic> CompilerDiagnostics(Compilation compilation) =>
        compilation.GetDiagnostics(TestContext.Current.CancellationToken).Where(d => d.Severity != DiagnosticSeverity.Hidden).ToImmutableArray();

    public static string Describe(IEnumerable<Diagnostic> diagnostics) => string.Join(Environment.NewLine, diagnostics.Select(d => d.ToString()));

    private static ImmutableArray<MetadataReference> BuildReferences()
    {
        var runtime = new[]
        {
            typeof(NsqTyped.INsqPublisher).Assembly,
            typeof(NsqTyped.Protocol.NsqNames).Assembly,
            typeof(NsqTyped.MessagePack.NsqMessagePackSerializer<>).Assembly,
            typeof(global::MessagePack.MessagePackSerializer).Assembly,
            typeof(global::MessagePack.MessagePackObjectAttribute).Assembly,
            typeof(Microsoft.Extensions.DependencyInjection.IServiceCollection).Assembly,
        };
        return [.. Net100.References.All, .. runtime.Distinct().Select(a => (MetadataReference)MetadataReference.CreateFromFile(a.Location))];
    }
}
