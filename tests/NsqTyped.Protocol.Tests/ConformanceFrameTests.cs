using System.Text;
using NsqTyped.Conformance;

namespace NsqTyped.Protocol.Tests;

/// <summary>Every server frame recorded from nsqd on an uncompressed layer parses to the recorded frame.</summary>
public class ConformanceFrameTests
{
    // "tls" steps hold the decrypted stream, which is plain NSQ framing as well.
    private static bool IsUncompressed(ConformanceStep step) => step.Layer is "plain" or "tls";

    internal static IEnumerable<(ConformanceStep Step, byte[] Bytes)> RecordedReceives(ConformanceFixture fixture) =>
        fixture.Steps
            .Where(s => IsUncompressed(s) && s.Frames is not null && s.ReceivedBytes is not null)
            .Select(s => (s, s.ReceivedBytes!));

    [Theory]
    [MemberData(nameof(ConformanceFixtures.TcpFixtureNames), MemberType = typeof(ConformanceFixtures))]
    public void Recorded_server_bytes_parse_to_the_recorded_frames(string name)
    {
        var fixture = ConformanceFixtures.Load(name);
        var messages = new Dictionary<string, DecodedFrame>(StringComparer.Ordinal);

        foreach (var (step, bytes) in RecordedReceives(fixture))
        {
            var (frames, remaining) = DecodedFrame.ReadAll(TestSequence.Create(bytes));

            Assert.True(remaining == 0, $"{name} {step}: {remaining} bytes left after the frames");
            Assert.True(step.Frames!.Count == frames.Count, $"{name} {step}: expected {step.Frames.Count} frames, parsed {frames.Count}");
            for (var i = 0; i < frames.Count; i++)
            {
                AssertFrame(fixture, step, step.Frames[i], frames[i], messages);
            }
        }
    }

    [Theory]
    [MemberData(nameof(ConformanceFixtures.TcpFixtureNames), MemberType = typeof(ConformanceFixtures))]
    public void Recorded_server_bytes_parse_identically_when_split_anywhere(string name)
    {
        var fixture = ConformanceFixtures.Load(name);

        foreach (var (step, bytes) in RecordedReceives(fixture))
        {
            var (expected, _) = DecodedFrame.ReadAll(TestSequence.Create(bytes));

            for (var cut = 1; cut < bytes.Length; cut++)
            {
                AssertSameFrames(expected, DecodedFrame.ReadAll(TestSequence.Split(bytes, cut)), $"{name} {step} split at {cut}");
                AssertSameFrames(expected, DecodedFrame.ReadStreaming(bytes, cut), $"{name} {step} arriving in two parts at {cut}");
            }

            AssertSameFrames(expected, DecodedFrame.ReadAll(TestSequence.BytePerSegment(bytes)), $"{name} {step} one byte per segment");
            AssertSameFrames(expected, DecodedFrame.ReadStreaming(bytes, [.. Enumerable.Range(1, Math.Max(0, bytes.Length - 1))]), $"{name} {step} arriving byte by byte");
        }
    }

    [Theory]
    [MemberData(nameof(ConformanceFixtures.TcpFixtureNames), MemberType = typeof(ConformanceFixtures))]
    public void Error_frames_are_fatal_exactly_when_nsqd_closed_the_connection(string name)
    {
        var fixture = ConformanceFixtures.Load(name);

        foreach (var (step, bytes) in RecordedReceives(fixture))
        {
            var errors = DecodedFrame.ReadAll(TestSequence.Create(bytes)).Frames.Where(f => f.Error is not null).Select(f => f.Error!).ToArray();
            if (errors.Length == 0)
            {
                continue;
            }

            var expectClosed = errors.Any(e => e.IsFatal);
            Assert.True(
                (step.ConnectionAfter == "closed") == expectClosed,
                $"{name} {step}: errors [{string.Join(", ", errors.Select(e => e.CodeText))}] but connection {step.ConnectionAfter}");
        }
    }

    [Fact]
    public void Conformance_frames_cover_every_frame_type_and_many_errors()
    {
        var frames = ConformanceFixtures.LoadAllTcp()
            .SelectMany(f => RecordedReceives(f).SelectMany(r => DecodedFrame.ReadAll(TestSequence.Create(r.Bytes)).Frames))
            .ToArray();

        Assert.True(frames.Length >= 200, $"only {frames.Length} frames were checked");
        Assert.Contains(frames, f => f.Type == NsqFrameType.Message);
        Assert.Contains(frames, f => f.Type == NsqFrameType.Response && f.Data.AsSpan().SequenceEqual("_heartbeat_"u8));
        Assert.Contains(frames, f => f.Type == NsqFrameType.Response && f.Data.AsSpan().SequenceEqual("CLOSE_WAIT"u8));
        var codes = frames.Where(f => f.Error is not null).Select(f => f.Error!.Code).ToHashSet();
        Assert.True(codes.Count >= 8, $"only {codes.Count} distinct error codes were checked");
        Assert.Contains(NsqErrorCode.FinFailed, codes);
    }

    [Theory]
    [MemberData(nameof(ConformanceFixtures.TcpFixtureNames), MemberType = typeof(ConformanceFixtures))]
    public void Recorded_json_responses_round_trip_through_the_models_byte_for_byte(string name)
    {
        var fixture = ConformanceFixtures.Load(name);

        foreach (var (_, bytes) in RecordedReceives(fixture))
        {
            foreach (var frame in DecodedFrame.ReadAll(TestSequence.Create(bytes)).Frames.Where(f => f.Type == NsqFrameType.Response && f.Data is [(byte)'{', ..]))
            {
                var json = Encoding.UTF8.GetString(frame.Data);
                var reserialized = json.Contains("\"max_rdy_count\"", StringComparison.Ordinal)
                    ? NsqIdentifyResponse.Parse(frame.Data).ToUtf8Json()
                    : NsqAuthResponse.Parse(frame.Data).ToUtf8Json();

                Assert.Equal(json, Encoding.UTF8.GetString(reserialized));
            }
        }
    }

    private static void AssertSameFrames(List<DecodedFrame> expected, (List<DecodedFrame> Frames, long Remaining) actual, string context)
    {
        var wholeFrames = expected;
        Assert.True(wholeFrames.Count == actual.Frames.Count, $"{context}: {actual.Frames.Count} frames instead of {wholeFrames.Count}");
        Assert.True(actual.Remaining == 0, $"{context}: {actual.Remaining} bytes left");
        for (var i = 0; i < wholeFrames.Count; i++)
        {
            var a = wholeFrames[i];
            var b = actual.Frames[i];
            Assert.True(
                a.Type == b.Type && a.Size == b.Size && a.Data.AsSpan().SequenceEqual(b.Data) && a.Attempts == b.Attempts
                && a.Id == b.Id && a.Timestamp == b.Timestamp && a.Body.AsSpan().SequenceEqual(b.Body),
                $"{context}: frame {i} differs");
        }
    }

    private static void AssertFrame(ConformanceFixture fixture, ConformanceStep step, ConformanceFrame expected, DecodedFrame actual, Dictionary<string, DecodedFrame> messages)
    {
        var context = $"{fixture.Name} {step} frame '{expected}'";
        Assert.True(expected.FrameType == (int)actual.Type, $"{context}: type {actual.Type}");
        Assert.True(expected.Size == actual.Size, $"{context}: size {actual.Size}");

        if (expected.ExactData is { } data)
        {
            Assert.True(data.AsSpan().SequenceEqual(actual.Data), $"{context}: data '{Encoding.UTF8.GetString(actual.Data)}'");
        }

        if (expected.ResolveTemplate(fixture.ObservedMessageIds) is { } resolved)
        {
            Assert.True(resolved.AsSpan().SequenceEqual(actual.Data), $"{context}: data '{Encoding.UTF8.GetString(actual.Data)}'");
        }

        if (expected.ErrorCode is { } code)
        {
            Assert.NotNull(actual.Error);
            Assert.Equal(code, actual.Error.CodeText);
            Assert.NotEqual(NsqErrorCode.Unknown, actual.Error.Code);
            Assert.Equal(code, NsqErrors.ToCodeText(actual.Error.Code));
            Assert.Equal(Encoding.UTF8.GetString(actual.Data), actual.Error.Message);
        }

        if (expected.IsMessage)
        {
            Assert.Equal(expected.Attempts, actual.Attempts);
            Assert.Equal(expected.BodyLength, actual.Body.Length);
            Assert.Equal(expected.BodyText, Encoding.UTF8.GetString(actual.Body));
            if (expected.IdIs16AsciiHex == true)
            {
                Assert.True(actual.Id.IsHex, $"{context}: id {actual.Id} is not hex");
            }

            if (expected.ObservedId is { } id)
            {
                Assert.Equal(id, actual.Id.ToString());
            }

            if (expected.ObservedTimestampNs is { } timestamp)
            {
                Assert.Equal(timestamp, actual.Timestamp);
            }

            if (expected.IdSameAs is { } sameId)
            {
                Assert.Equal(messages[sameId].Id, actual.Id);
            }

            if (expected.TimestampSameAs is { } sameTimestamp)
            {
                Assert.Equal(messages[sameTimestamp].Timestamp, actual.Timestamp);
            }

            if (expected.Ref is { } reference)
            {
                messages[reference] = actual;
            }
        }

        if (step.RawHex is null && step.RawPattern is { } pattern && step.ObservedRawHex is { } observed)
        {
            Assert.True(ConformanceHex.Matches(ConformanceHex.Parse(observed), pattern), $"{context}: observed bytes do not match raw_pattern");
        }
    }
}
