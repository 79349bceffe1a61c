using System.Buffers;
using System.Text;
using NsqTyped.Conformance;

namespace NsqTyped.Protocol.Tests;

/// <summary>The name rule agrees with nsqd on every topic and channel name the fixtures sent.</summary>
public class ConformanceNameTests
{
    private sealed record NameVerdict(string Fixture, string Kind, string Name, bool AcceptedByNsqd);

    private static IEnumerable<NameVerdict> Verdicts(ConformanceFixture fixture)
    {
        foreach (var step in fixture.Steps.Where(s => s.SendHex is not null && s.Frames is { Count: > 0 }))
        {
            var buffer = new ReadOnlySequence<byte>(ConformanceHex.Parse(step.SendHex!));
            NsqClientCommand command;
            try
            {
                if (!NsqCommandReader.TryReadCommand(ref buffer, out command) || !buffer.IsEmpty)
                {
                    continue;
                }
            }
            catch (NsqProtocolException)
            {
                continue;
            }

            if (command.Verb is not (NsqCommandVerb.Pub or NsqCommandVerb.Mpub or NsqCommandVerb.Dpub or NsqCommandVerb.Sub))
            {
                continue;
            }

            var parameters = Encoding.Latin1.GetString(command.Line.ToArray()).Split(' ');
            var expectedCount = command.Verb is NsqCommandVerb.Pub or NsqCommandVerb.Mpub ? 2 : 3;
            if (parameters.Length != expectedCount)
            {
                continue;
            }

            // nsqd checks the topic, then the channel; any other answer says nothing about the names.
            var first = step.Frames![0];
            var topic = parameters[1];
            if (first.ErrorCode == "E_BAD_TOPIC")
            {
                yield return new NameVerdict(fixture.Name, "topic", topic, false);
            }
            else if (first.ErrorCode == "E_BAD_CHANNEL")
            {
                yield return new NameVerdict(fixture.Name, "topic", topic, true);
                yield return new NameVerdict(fixture.Name, "channel", parameters[2], false);
            }
            else if (first.FrameType == 0 && first.DataText == "OK")
            {
                yield return new NameVerdict(fixture.Name, "topic", topic, true);
                if (command.Verb == NsqCommandVerb.Sub)
                {
                    yield return new NameVerdict(fixture.Name, "channel", parameters[2], true);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(ConformanceFixtures.TcpFixtureNames), MemberType = typeof(ConformanceFixtures))]
    public void Name_rule_matches_what_nsqd_accepted_and_rejected(string name)
    {
        foreach (var verdict in Verdicts(ConformanceFixtures.Load(name)))
        {
            var valid = verdict.Kind == "topic" ? NsqNames.IsValidTopicName(verdict.Name) : NsqNames.IsValidChannelName(verdict.Name);
            Assert.True(valid == verdict.AcceptedByNsqd, $"{verdict}: NsqNames says {(valid ? "valid" : "invalid")}");
        }
    }

    [Fact]
    public void Fixtures_provide_accepted_and_rejected_names_of_both_kinds()
    {
        var verdicts = ConformanceFixtures.LoadAllTcp().SelectMany(Verdicts).ToArray();

        Assert.Contains(verdicts, v => v.Kind == "topic" && v.AcceptedByNsqd);
        Assert.Contains(verdicts, v => v.Kind == "topic" && !v.AcceptedByNsqd);
        Assert.Contains(verdicts, v => v.Kind == "channel" && v.AcceptedByNsqd);
        Assert.Contains(verdicts, v => v.Kind == "channel" && !v.AcceptedByNsqd);
        Assert.Contains(verdicts, v => v.AcceptedByNsqd && v.Name.EndsWith("#ephemeral", StringComparison.Ordinal));
        Assert.Contains(verdicts, v => v.AcceptedByNsqd && v.Name.Length == NsqNames.MaxLength);
        Assert.Contains(verdicts, v => !v.AcceptedByNsqd && v.Name.Length > NsqNames.MaxLength);
    }
}
