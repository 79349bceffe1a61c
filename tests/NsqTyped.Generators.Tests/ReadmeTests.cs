using NsqTyped.Generators.Tests.Support;

namespace NsqTyped.Generators.Tests;

/// <summary>The README's typed example is the TypedExample sample, which the solution builds and anyone can run.</summary>
public sealed class ReadmeTests
{
    [Fact]
    public void The_README_typed_example_is_samples_TypedExample_Program_cs_verbatim()
    {
        var root = Repository.Root();
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");
        var program = File.ReadAllText(Path.Combine(root, "samples", "TypedExample", "Program.cs")).ReplaceLineEndings("\n");

        var section = readme[readme.IndexOf("## A typed example", StringComparison.Ordinal)..];
        var start = section.IndexOf("```csharp\n", StringComparison.Ordinal) + "```csharp\n".Length;
        var block = section[start..section.IndexOf("```\n", start, StringComparison.Ordinal)];

        Assert.Equal(program, block);
    }
}
