using System.Text.Json.Serialization;
using HostedWorker;
using NsqTyped;

[assembly: NsqJsonContext(typeof(WorkerJsonContext))]

namespace HostedWorker;

/// <summary>A payment to record, topic <c>worker.payments</c> (JSON).</summary>
[NsqTopic("worker.payments")]
public sealed record PaymentReceived(int Sequence, string Account, decimal Amount, DateTimeOffset At);

[JsonSerializable(typeof(PaymentReceived))]
internal sealed partial class WorkerJsonContext : JsonSerializerContext;
