using Microsoft.CodeAnalysis;
using NsqTyped.Generators.Tests.Support;

namespace NsqTyped.Generators.Tests;

/// <summary>
/// The generated API is internal to the application; its test project sees it through
/// <c>&lt;InternalsVisibleTo Include="App.Tests" /&gt;</c> (docs/testing.md), and without it gets CS0122;
/// a test project with topics of its own gets CS0436 (its generated types hide the application's).
/// </summary>
public sealed class TestProjectAccessTests
{
    private const string App = """
        using System.Threading.Tasks;
        using NsqTyped;

        namespace Shop
        {
            [NsqTopic("orders.created")]
            public sealed record OrderCreated(string OrderId);

            public static class Billing
            {
                [NsqHandler(Channel = "billing")]
                public static ValueTask OnOrderCreatedAsync(OrderCreated order) => default;
            }
        }
        """;

    private const string Test = """
        using System.Threading.Tasks;
        using NsqTyped;

        namespace Shop.Tests
        {
            public static class BillingTests
            {
                public static async Task Run(INsqPublisher publisher)
                {
                    INsqHandlerDispatcher handler = NsqTypedHandlers.Billing_OnOrderCreatedAsync;
                    string topic = NsqTopics.OrderCreated;
                    INsqSerializer<Shop.OrderCreated> serializer = NsqTypedSerializers.OrderCreated;
                    await publisher.PublishOrderCreatedAsync(new Shop.OrderCreated("A-1"));
                    await publisher.PublishAsync(new Shop.OrderCreated("A-2"));
                    _ = (handler, topic, serializer);
                }
            }
        }
        """;

    [Fact]
    public void A_test_project_named_in_InternalsVisibleTo_compiles_against_the_generated_API()
    {
        var app = AppReference("[assembly: System.Runtime.CompilerServices.InternalsVisibleTo(\"Shop.Tests\")]");
        var (_, output) = GeneratorHarness.Run(GeneratorHarness.CompileAssembly("Shop.Tests", Test).AddReferences(app));

        var diagnostics = GeneratorHarness.CompilerDiagnostics(output);
        Assert.True(diagnostics.IsEmpty, GeneratorHarness.Describe(diagnostics));
    }

    [Fact]
    public void Without_InternalsVisibleTo_the_generated_API_is_inaccessible_to_a_test_project()
    {
        var (_, output) = GeneratorHarness.Run(GeneratorHarness.CompileAssembly("Shop.Tests", Test).AddReferences(AppReference("")));

        Assert.Contains(GeneratorHarness.CompilerDiagnostics(output), d => d.Id == "CS0122");
    }

    [Fact]
    public void A_test_project_with_topics_of_its_own_gets_generated_types_that_clash_with_the_applications()
    {
        const string OwnTopic = "namespace Shop.Tests { [NsqTyped.NsqTopic(\"test.only\")] public sealed record Probe(string V); }";
        var app = AppReference("[assembly: System.Runtime.CompilerServices.InternalsVisibleTo(\"Shop.Tests\")]");
        var (_, output) = GeneratorHarness.Run(GeneratorHarness.CompileAssembly("Shop.Tests", Test, OwnTopic, Sources.JsonContext("Shop.Tests.Probe")).AddReferences(app));

        var diagnostics = GeneratorHarness.CompilerDiagnostics(output);
        Assert.Contains(diagnostics, d => d.Id == "CS0436" && d.GetMessage(System.Globalization.CultureInfo.InvariantCulture).Contains("The type 'NsqTypedHandlers' in 'NsqTyped.Generators", StringComparison.Ordinal));
    }

    private static MetadataReference AppReference(string assemblyAttributes)
    {
        var (_, app) = GeneratorHarness.Run(GeneratorHarness.CompileAssembly("Shop", App, assemblyAttributes, Sources.JsonContext("OrderCreated")));
        using var image = new MemoryStream();
        var emitted = app.Emit(image, cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(emitted.Success, GeneratorHarness.Describe(emitted.Diagnostics));
        return MetadataReference.CreateFromImage(image.ToArray());
    }
}
