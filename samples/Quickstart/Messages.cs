using System.Text.Json.Serialization;
using NsqTyped;
using Quickstart;

// JSON topics are (de)serialized with this source-generated context: no reflection, NativeAOT-safe.
[assembly: NsqJsonContext(typeof(QuickstartJsonContext))]

namespace Quickstart;

/// <summary>A JSON message on topic <c>quickstart.orders</c>.</summary>
[NsqTopic("quickstart.orders")]
public sealed record OrderPlaced(string RunId, int Number, string Customer, decimal Total);

/// <summary>A plain UTF-8 text message on topic <c>quickstart.audit</c>.</summary>
[NsqTopic("quickstart.audit", Format = NsqSerializationFormat.String)]
public sealed record AuditLine(string Text);

[JsonSerializable(typeof(OrderPlaced))]
internal sealed partial class QuickstartJsonContext : JsonSerializerContext;
