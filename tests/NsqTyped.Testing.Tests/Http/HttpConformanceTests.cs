using System.Text;
using NsqTyped.Conformance;

namespace NsqTyped.Testing.Tests.Http;

/// <summary>
/// Replays every recorded HTTP scenario (<c>tests/conformance/http/*.json</c>, discovered, not listed)
/// against freshly started embedded servers and compares each answer field by field with what the real
/// nsqd/nsqlookupd v1.3.0 answered.
/// </summary>
public sealed class HttpConformanceTests
{
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(5);

    public static TheoryData<string> Fixtures => ConformanceFixtures.HttpFixtureNames;

    [Theory]
    [MemberData(nameof(Fixtures))]
    public async Task Server_answers_like_the_recording(string name)
    {
        var fixture = ConformanceFixtures.Load(name);
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var servers = await FixtureServers.StartAsync(fixture, cancellationToken);
        await using var setup = new TcpSetupInterpreter(
            servers.Nsqd?.TcpEndPoint ?? new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
            servers.HttpEndPointOf);
        var failures = new StringBuilder();
        DateTime? settle = null;
        foreach (var step in fixture.Steps)
        {
            switch (step.Action)
            {
                case "http":
                    var problems = await RunHttpStepAsync(step, servers, settle, cancellationToken);

                    // Every read-only request after a sleep may still be waiting for the asynchronous effect.
                    settle = step.Method == "GET" ? settle : null;
                    foreach (var problem in problems)
                    {
                        failures.Append("step ").Append(step.Number).Append(' ').Append(step.Method).Append(' ').Append(step.Path)
                            .Append(": ").Append(problem).Append('\n');
                    }

                    break;
                case "tcp_setup":
                    await setup.RunAsync(step.Conn ?? "-", step.Description ?? string.Empty, cancellationToken);
                    break;
                case "sleep":
                    // The recording slept so that something asynchronous could happen; instead of sleeping,
                    // the read-only requests that follow are retried until they match, for up to a few times that long.
                    settle = DateTime.UtcNow + TimeSpan.FromMilliseconds(Math.Max(3 * (step.Ms ?? 0), SettleTimeout.TotalMilliseconds));
                    break;
                default:
                    failures.Append("step ").Append(step.Number).Append(": unknown action '").Append(step.Action).Append("'\n");
                    break;
            }
        }

        Assert.True(failures.Length == 0, $"{fixture.Name} ({fixture.Description}):\n{failures}");
    }

    private static async Task<List<string>> RunHttpStepAsync(ConformanceStep step, FixtureServers servers, DateTime? settleUntil, CancellationToken cancellationToken)
    {
        var endPoint = servers.HttpEndPointOf(step.Server ?? string.Empty)
            ?? throw new InvalidOperationException($"step {step.Number}: no '{step.Server}' server is running for this fixture");
        while (true)
        {
            var response = await RawHttpClient.SendAsync(
                endPoint,
                step.Method!,
                servers.Ports.Apply(step.Path!),
                step.RequestHeaders,
                step.RequestBody,
                cancellationToken);
            var problems = HttpStepComparer.Compare(step, response, servers.Ports);
            if (problems.Count == 0 || settleUntil is null || step.Method != "GET" || DateTime.UtcNow > settleUntil)
            {
                return problems;
            }

            await Task.Delay(25, cancellationToken);
        }
    }
}
