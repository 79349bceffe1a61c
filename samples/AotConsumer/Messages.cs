using System.Text.Json.Serialization;
using NsqTyped;

// JSON topics are serialized by this source-generated context: no reflection, so NativeAOT and trimming stay silent.
[assembly: NsqJsonContext(typeof(AotConsumer.AppJsonContext))]

namespace AotConsumer;

/// <summary>An order, published one at a time (PUB) and in batches (MPUB).</summary>
/// <param name="RunId">Which run of the sample published it; a real nsqd may still hold messages of earlier runs.</param>
/// <param name="Number">The order number, unique within a run.</param>
/// <param name="Total">The order total.</param>
[NsqTopic("aot.orders")]
public sealed record OrderPlaced(string RunId, int Number, decimal Total);

/// <summary>A reminder, published with a delivery delay (DPUB).</summary>
/// <param name="RunId">Which run of the sample published it.</param>
/// <param name="Text">What to remember.</param>
/// <param name="PublishedAt">When it was published, to show the delay it arrived after.</param>
[NsqTopic("aot.reminders")]
public sealed record ReminderDue(string RunId, string Text, DateTimeOffset PublishedAt);

/// <summary>A plain text line: the body is its UTF-8 bytes, no JSON.</summary>
/// <param name="Text">The line, starting with the run id.</param>
[NsqTopic("aot.log", Format = NsqSerializationFormat.String)]
public sealed record LogLine(string Text);

/// <summary>The sample's JSON metadata, generated at compile time.</summary>
[JsonSerializable(typeof(OrderPlaced))]
[JsonSerializable(typeof(ReminderDue))]
internal sealed partial class AppJsonContext : JsonSerializerContext;
