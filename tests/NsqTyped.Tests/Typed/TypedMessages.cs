using System.Text.Json.Serialization;
using NsqTyped;
using NsqTyped.Tests.Typed;

// The generated serializers of this assembly's JSON topics read their metadata from this context.
[assembly: NsqJsonContext(typeof(TypedTestJsonContext))]

namespace NsqTyped.Tests.Typed;

// Each scenario has its own topic: a channel only receives what is published after it exists, so
// scenarios sharing a topic would see each other's channels fill up.

/// <summary>Where a shipment goes (a nested record: value equality survives the JSON round trip).</summary>
public sealed record ShippingAddress(string City, string PostalCode);

/// <summary>JSON topic with a static and an instance handler on two channels.</summary>
[NsqTopic("nsqtyped-tests.typed.shipments")]
public sealed record ShipmentDispatched(string RunId, int Number, string Carrier, decimal WeightKg, ShippingAddress To, DateTimeOffset DispatchedAt);

/// <summary>String topic: the body is the UTF-8 text, <c>runId|text</c>.</summary>
[NsqTopic("nsqtyped-tests.typed.audit", Format = NsqSerializationFormat.String)]
public sealed record AuditLine(string Text);

/// <summary>JSON topic handled by an instance handler that only dependency injection can build.</summary>
[NsqTopic("nsqtyped-tests.typed.invoices")]
public sealed record InvoiceIssuedEvent(string RunId, int Number, decimal Amount);

/// <summary>JSON topic whose handler fails on the first attempt.</summary>
[NsqTopic("nsqtyped-tests.typed.flaky")]
public sealed record FlakyJob(string RunId, string Payload);

/// <summary>JSON topic published with DPUB.</summary>
[NsqTopic("nsqtyped-tests.typed.reminders")]
public sealed record ReminderDue(string RunId, int Number, string Text);

/// <summary>The test assembly's source-generated JSON metadata.</summary>
[JsonSerializable(typeof(ShipmentDispatched))]
[JsonSerializable(typeof(InvoiceIssuedEvent))]
[JsonSerializable(typeof(FlakyJob))]
[JsonSerializable(typeof(ReminderDue))]
internal sealed partial class TypedTestJsonContext : JsonSerializerContext;
