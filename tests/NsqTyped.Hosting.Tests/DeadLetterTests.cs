using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NsqTyped.Hosting.Internal;
using NsqTyped.Tests.Support;

namespace NsqTyped.Hosting.Tests;

/// <summary>
/// Giving up in hosted consumers: the dead-letter topic from configuration and from <c>[NsqHandler(DeadLetterTopic)]</c>,
/// published through the registered producer, and the <c>OnGivingUp</c> hook with the app's services.
/// </summary>
[Collection(HandlerTopicsCollection.Name)]
public sealed class DeadLetterTests(NsqTestServers servers) : IAsyncLifetime
{
    private const string ConfiguredDeadLetterTopic = "hosting.poison.configured-dead";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => new(HandlerTopics.ResetAsync(servers, Token));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Hosted_consumers_dead_letter_to_the_configured_and_the_attribute_topic_through_the_producer()
    {
        var config = HostingTestKit.NsqdOnly(servers.NsqdTcpAddress);
        config["Nsq:Consumers:hosting.poison/configured:DeadLetterTopic"] = ConfiguredDeadLetterTopic;
        var givenUp = new ConcurrentQueue<(string Channel, int Number, Guid Scope)>();
        using var host = HostingTestKit.BuildHost(config, services => services.AddNsqTyped().OnGivingUp((handler, message, scope, ct) =>
        {
            // The hook's provider is a scope of the app's container: scoped services resolve, one scope per call.
            var pill = System.Text.Json.JsonSerializer.Deserialize(message.Body.Span, HostingTestJsonContext.Default.PoisonPill)!;
            givenUp.Enqueue((handler.Channel, pill.Number, scope.GetRequiredService<ScopeId>().Value));
            return ValueTask.CompletedTask;
        }));

        // Watch both dead-letter topics from before the pill is published (ephemeral channels see only new messages).
        await using var configuredWatch = await WatchAsync(ConfiguredDeadLetterTopic);
        await using var attributeWatch = await WatchAsync(PoisonHandler.AttributeDeadLetterTopic);
        await host.StartAsync(Token);
        try
        {
            var running = host.Services.GetRequiredService<NsqTypedConsumers>().Running;
            var publisher = host.Services.GetRequiredService<INsqPublisher>();
            var attributeReader = running.Single(c => c.Key == "hosting.poison/attribute").Reader;
            var configuredReader = running.Single(c => c.Key == "hosting.poison/configured").Reader;
            Assert.Equal(PoisonHandler.AttributeDeadLetterTopic, attributeReader.Options.DeadLetterTopic);
            Assert.Equal(ConfiguredDeadLetterTopic, configuredReader.Options.DeadLetterTopic);
            Assert.Same(publisher, attributeReader.Options.DeadLetterPublisher);
            Assert.Same(publisher, configuredReader.Options.DeadLetterPublisher);

            // A message published before a channel exists reaches only the channels there at that moment.
            await Eventually.TrueAsync(() => attributeReader.Connections.Count == 1 && configuredReader.Connections.Count == 1, "both poison consumers are subscribed");
            var number = Random.Shared.Next(1, int.MaxValue);
            await publisher.PublishPoisonPillAsync(new PoisonPill(number), Token);

            // Both copies are the original body, published once each.
            Assert.Equal(number, await NextPillAsync(configuredWatch));
            Assert.Equal(number, await NextPillAsync(attributeWatch));
            var probe = host.Services.GetRequiredService<Probe>();
            Assert.Equal(["attribute", "configured"], probe.Refused.Where(r => r.Number == number).Select(r => r.Channel).Order());

            await Eventually.TrueAsync(() => givenUp.Count(g => g.Number == number) == 2, "the giving-up hook ran for both consumers");
            var calls = givenUp.Where(g => g.Number == number).ToList();
            Assert.Equal(["attribute", "configured"], calls.Select(c => c.Channel).Order());
            Assert.NotEqual(calls[0].Scope, calls[1].Scope);
        }
        finally
        {
            await host.StopAsync(Token);
        }
    }

    private async Task<NsqReader> WatchAsync(string topic)
    {
        var reader = new NsqReader(new NsqReaderOptions { Topic = topic, Channel = "watch#ephemeral", NsqdTcpAddresses = [servers.NsqdTcpAddress] });
        await reader.StartAsync(Token);
        await Eventually.TrueAsync(() => reader.Connections.Count == 1, "the watcher of " + topic + " is subscribed");
        return reader;
    }

    private static async Task<int> NextPillAsync(NsqReader watch)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        await foreach (var message in watch.ReadAllAsync(timeout.Token))
        {
            await message.FinishAsync(Token);
            return System.Text.Json.JsonSerializer.Deserialize(message.Body.Span, HostingTestJsonContext.Default.PoisonPill)!.Number;
        }

        throw new TimeoutException("No dead-lettered message arrived on " + watch.Options.Topic);
    }
}
