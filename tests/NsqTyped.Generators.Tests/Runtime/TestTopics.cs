using System.Text.Json.Serialization;
using MessagePack;
using NsqTyped.Generators.Tests.Runtime;
using NsqTyped.MessagePack;

// This project consumes its own generator (see the csproj): these declarations get real generated
// publishers, serializers and dispatchers, which the runtime tests call in-process.
[assembly: NsqTyped.NsqJsonContext(typeof(TestJsonContext))]
[assembly: NsqMessagePackOptions(typeof(TestMessagePack))]

namespace NsqTyped.Generators.Tests.Runtime;

[NsqTopic("orders.created")]
public sealed record OrderCreated(string OrderId, decimal Total);

[NsqTopic("orders.cancelled")]
public sealed record OrderCancelledEvent(string OrderId, string Reason);

[MessagePackObject]
[NsqTopic("stock.changed", Format = NsqSerializationFormat.MessagePack)]
public sealed class StockChanged
{
    [Key(0)]
    public string Sku { get; set; } = string.Empty;

    [Key(1)]
    public int Quantity { get; set; }
}

[NsqTopic("blobs", Format = NsqSerializationFormat.Raw)]
public readonly record struct Blob(ReadOnlyMemory<byte> Data);

[NsqTopic("log.lines", Format = NsqSerializationFormat.String)]
public sealed record LogLine(string Text);

[JsonSerializable(typeof(OrderCreated))]
[JsonSerializable(typeof(OrderCancelledEvent))]
internal sealed partial class TestJsonContext : JsonSerializerContext;

internal sealed class TestMessagePack : INsqMessagePackOptionsProvider
{
    public static MessagePackSerializerOptions Options { get; } = MessagePackSerializerOptions.Standard;
}
