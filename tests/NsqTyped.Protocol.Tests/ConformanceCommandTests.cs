using NsqTyped.Conformance;

namespace NsqTyped.Protocol.Tests;

/// <summary>Every well-formed command the fixtures sent to nsqd, rebuilt by the writer, is byte-identical.</summary>
public class ConformanceCommandTests
{
    internal static IEnumerable<(ConformanceStep Step, RebuiltCommand Command)> RebuiltCommands(ConformanceFixture fixture) =>
        fixture.Steps
            .Where(s => s.HasSend)
            .SelectMany(s => CommandRebuilder.Rebuild(s.ResolveSendBytes(fixture.ObservedMessageIds)!).Rebuilt.Select(c => (s, c)));

    [Theory]
    [MemberData(nameof(ConformanceFixtures.TcpFixtureNames), MemberType = typeof(ConformanceFixtures))]
    public void Well_formed_recorded_commands_are_rebuilt_byte_for_byte(string name)
    {
        var fixture = ConformanceFixtures.Load(name);

        foreach (var (step, command) in RebuiltCommands(fixture))
        {
            Assert.True(
                command.Recorded.AsSpan().SequenceEqual(command.Rebuilt),
                $"{name} {step}: {command.Verb}\n recorded {ConformanceHex.Format(command.Recorded)}\n rebuilt  {ConformanceHex.Format(command.Rebuilt)}");
        }
    }

    [Fact]
    public void Rebuilt_commands_cover_every_verb_and_most_sends()
    {
        var all = ConformanceFixtures.LoadAllTcp().SelectMany(f => RebuiltCommands(f).Select(r => r.Command)).ToArray();
        var byVerb = all.GroupBy(c => c.Verb).ToDictionary(g => g.Key, g => g.Count());

        Assert.True(all.Length >= 300, $"only {all.Length} commands were rebuilt");
        foreach (var verb in new[] { "MAGIC", "IDENTIFY", "AUTH", "SUB", "PUB", "MPUB", "DPUB", "RDY", "FIN", "REQ", "TOUCH", "CLS", "NOP" })
        {
            Assert.True(byVerb.ContainsKey(verb), $"no {verb} command was rebuilt; got {string.Join(", ", byVerb.Select(p => $"{p.Key}={p.Value}"))}");
        }

        Assert.Contains(all, c => c.Verb == "IDENTIFY" && c.ViaTypedModel);
    }

    [Fact]
    public void Deliberately_malformed_sends_are_recognised_and_skipped()
    {
        var skipped = ConformanceFixtures.LoadAllTcp()
            .SelectMany(f => f.Steps.Where(s => s.HasSend).Select(s => (f, CommandRebuilder.Rebuild(s.ResolveSendBytes(f.ObservedMessageIds)!).Skipped)))
            .Where(x => x.Skipped.Count > 0)
            .Select(x => x.f.Name)
            .ToHashSet();

        // A few fixtures whose whole point is a malformed command: the rule must reject them by itself.
        Assert.Contains("tcp/rdy_negative", skipped);
        Assert.Contains("tcp/lowercase_command", skipped);
        Assert.Contains("tcp/pub_crlf", skipped);
        Assert.Contains("tcp/mpub_zero_messages", skipped);
        Assert.DoesNotContain("tcp/pub_valid", skipped);
        Assert.DoesNotContain("tcp/pipelined_commands", skipped);
    }

    [Fact]
    public void Pipelined_commands_in_one_send_are_each_rebuilt()
    {
        var fixture = ConformanceFixtures.Load("tcp/pipelined_commands");
        var verbs = RebuiltCommands(fixture).Select(r => r.Command.Verb).ToArray();

        Assert.Equal(["MAGIC", "IDENTIFY", "PUB", "NOP", "PUB", "MPUB"], verbs);
    }
}
