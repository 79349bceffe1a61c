using NsqTyped.Protocol;

namespace NsqTyped.Generators.Tests;

/// <summary>The generator's copy of nsqd's naming rule agrees with the runtime's <see cref="NsqNames"/>.</summary>
public sealed class NameRulesTests
{
    public static TheoryData<string> Names() =>
    [
        "", "a", "orders.created", "orders_created-v2", "ORDERS", "with space", "slash/name", "colon:name",
        "unicodé", "tab\tname", "#ephemeral", "a#ephemeral", "a#ephemeralx", "a#b", "a.b.c#ephemeral",
        new string('a', 64), new string('a', 65), new string('a', 54) + "#ephemeral", new string('a', 55) + "#ephemeral",
        "..", "-", "_", "a*", "a+b", "a,b",
    ];

    [Theory]
    [MemberData(nameof(Names))]
    public void Generator_rule_matches_runtime_rule(string name)
    {
        Assert.Equal(NsqNames.IsValidTopicName(name), NameRules.IsValid(name));
        Assert.Equal(NsqNames.IsValidChannelName(name), NameRules.IsValid(name));
    }

    [Theory]
    [InlineData("OrderCreated", "OrderCreated")]
    [InlineData("OrderCreatedEvent", "OrderCreated")]
    [InlineData("OrderCreatedMessage", "OrderCreated")]
    [InlineData("Message", "Message")]
    [InlineData("Event", "Event")]
    [InlineData("EventMessage", "Event")]
    [InlineData("Eventful", "Eventful")]
    public void Publish_method_names_drop_one_Message_or_Event_suffix(string typeName, string expected) =>
        Assert.Equal(expected, NsqTypedGenerator.PublishBaseName(typeName));
}
