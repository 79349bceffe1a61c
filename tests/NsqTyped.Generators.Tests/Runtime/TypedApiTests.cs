using System.Text;
using NsqTyped.Generators.Tests.Support;

namespace NsqTyped.Generators.Tests.Runtime;

/// <summary>The API called by name: one accessor per handler, and the generic PublishAsync&lt;T&gt; over the topic table.</summary>
public sealed class TypedApiTests
{
    private readonly RecordingPublisher _publisher = new();

    [Fact]
    public void Each_handler_has_a_named_accessor_returning_its_dispatcher_from_All()
    {
        Assert.Equal("NsqTyped.Generators.Tests.Runtime.RecordingHandlers.OnOrderCreatedAsync", NsqTypedHandlers.RecordingHandlers_OnOrderCreatedAsync.HandlerName);
        Assert.Equal(("orders.created", "billing"), (NsqTypedHandlers.RecordingHandlers_OnOrderCreatedAsync.Topic, NsqTypedHandlers.RecordingHandlers_OnOrderCreatedAsync.Channel));
        Assert.Equal("archive", NsqTypedHandlers.StaticLogHandlers_OnLine.Channel);
        Assert.Equal("self", NsqTypedHandlers.SelfContainedHandler_OnLine.Channel);
        Assert.Contains(NsqTypedHandlers.DependentHandler_OnOrderCreated, NsqTypedHandlers.All);
        Assert.Same(NsqTypedHandlers.All.Single(d => d.Channel == "storage"), NsqTypedHandlers.RecordingHandlers_OnBlob);
    }

    [Fact]
    public void Accessor_names_do_not_depend_on_the_other_handlers()
    {
        const string Before = """
            namespace Shop
            {
                [NsqTyped.NsqTopic("a")] public sealed record A(string V);
                public static class H { [NsqTyped.NsqHandler(Channel = "c")] public static System.Threading.Tasks.ValueTask OnA(A a) => default; }
            }
            """;
        const string Added = """
            namespace Shop
            {
                [NsqTyped.NsqTopic("0first")] public sealed record Z(string V);
                public static class G { [NsqTyped.NsqHandler(Channel = "c")] public static System.Threading.Tasks.ValueTask OnZ(Z z) => default; }
            }
            """;

        var before = GeneratorHarness.Sources(GeneratorHarness.Run(GeneratorHarness.Compile(Before, Sources.JsonContext("A"))).Result)["NsqTypedHandlers.Named.g.cs"];
        var (result, output) = GeneratorHarness.Run(GeneratorHarness.Compile(Before, Added, Sources.JsonContext("A", "Z")));
        var after = GeneratorHarness.Sources(result)["NsqTypedHandlers.Named.g.cs"];

        Assert.Contains(" H_OnA => All[0];", before, StringComparison.Ordinal);
        Assert.Contains(" H_OnA => All[1];", after, StringComparison.Ordinal);
        Assert.Contains(" G_OnZ => All[0];", after, StringComparison.Ordinal);
        Assert.True(GeneratorHarness.CompilerDiagnostics(output).IsEmpty, GeneratorHarness.Describe(GeneratorHarness.CompilerDiagnostics(output)));
    }

    [Fact]
    public async Task Generic_PublishAsync_sends_the_body_to_the_topic_of_T_with_its_serializer()
    {
        await _publisher.PublishAsync(new OrderCreated("A-1", 12.5m), TestContext.Current.CancellationToken);
        await _publisher.PublishAsync(new LogLine("plain text"), TestContext.Current.CancellationToken);

        Assert.Equal(
            [("PUB", "orders.created", "{\"OrderId\":\"A-1\",\"Total\":12.5}"), ("PUB", "log.lines", "plain text")],
            _publisher.Calls.Select(c => (c.Verb, c.Topic, Encoding.UTF8.GetString(Assert.Single(c.Bodies)))));
    }

    [Fact]
    public async Task Generic_PublishAsync_through_a_forwarding_generic_of_a_type_without_a_topic_throws_naming_it()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Forward(_publisher, new Uri("http://example.invalid/")).AsTask());

        Assert.Contains("System.Uri is not an [NsqTopic] type", error.Message, StringComparison.Ordinal);
        Assert.Empty(_publisher.Calls);

        static ValueTask Forward<T>(INsqPublisher publisher, T message) => publisher.PublishAsync(message);
    }

    [Fact]
    public void The_topic_table_returns_the_generated_topic_and_serializer()
    {
        Assert.Equal(NsqTopics.StockChanged, NsqTypedTopicTable.Topic<StockChanged>());
        Assert.Same(NsqTypedSerializers.StockChanged, NsqTypedTopicTable.Serializer<StockChanged>());
    }
}
