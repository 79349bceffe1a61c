using NsqTyped.Tests.Support;

namespace NsqTyped.Hosting.Tests;

/// <summary>
/// Tests whose host runs the generated handlers. Their topics and channels are fixed by the attributes
/// (<c>hosting.orders/billing</c>, <c>hosting.jobs/work</c>) and the nsqd is shared, so two such classes
/// running in parallel would steal each other's messages: xunit runs the classes of one collection one at a time.
/// </summary>
[CollectionDefinition(Name)]
public sealed class HandlerTopicsCollection
{
    /// <summary>The collection's name, for <c>[Collection(HandlerTopicsCollection.Name)]</c>.</summary>
    public const string Name = "Generated handler topics";
}

internal static class HandlerTopics
{
    /// <summary>Every topic a generated handler of this assembly consumes.</summary>
    public static IReadOnlyList<string> All { get; } = [.. NsqTypedHandlers.All.Select(d => d.Topic).Distinct()];

    /// <summary>
    /// Deletes the handlers' topics (with their channels and messages) so a test starts from nothing, whatever an
    /// earlier test or an earlier run against the same long-lived nsqd left there (a requeued job, an in-flight order).
    /// </summary>
    public static async Task ResetAsync(NsqTestServers servers, CancellationToken cancellationToken)
    {
        using var http = new NsqdHttpClient(servers.NsqdHttpAddress);
        foreach (var topic in All)
        {
            try
            {
                await http.DeleteTopicAsync(topic, cancellationToken);
            }
            catch (NsqHttpException e) when (e.NsqCode == "TOPIC_NOT_FOUND")
            {
                // Nothing left over: a fresh server, or the topic was never used.
            }
        }
    }
}
