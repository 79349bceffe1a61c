using System.Buffers;
using System.Buffers.Binary;
using NsqTyped.Conformance;

namespace NsqTyped.Protocol.Tests;

/// <summary>
/// Hostile input: whatever bytes arrive, the parsers either return frames/commands, ask for more data
/// within a bound fixed by their limits, or throw <see cref="NsqProtocolException"/>. Nothing else may
/// escape, every loop ends, and no call allocates (let alone in proportion to a size field).
/// </summary>
public class MalformedInputTests
{
    private const int Seed = 20261129;
    private const int Iterations = 100_000;

    [Theory]
    [InlineData(new byte[] { 0x00, 0x00, 0x00 })]
    [InlineData(new byte[] { 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00 })]
    [InlineData(new byte[] { 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, (byte)'O' })]
    public void Truncated_frames_are_need_more_data(byte[] bytes)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.False(NsqFrameReader.TryReadFrame(ref buffer, out _));
        Assert.Equal(bytes.Length, buffer.Length);
    }

    [Theory]
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff })]
    [InlineData(new byte[] { 0x80, 0x00, 0x00, 0x00 })]
    [InlineData(new byte[] { 0x7f, 0xff, 0xff, 0xff })]
    [InlineData(new byte[] { 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x07, (byte)'O', (byte)'K' })]
    [InlineData(new byte[] { 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x02, 1, 2, 3, 4 })]
    [InlineData(new byte[] { (byte)'G', (byte)'E', (byte)'T', (byte)' ', (byte)'/', (byte)' ', (byte)'H', (byte)'T' })]
    public void Garbage_headers_are_protocol_errors(byte[] bytes)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.Throws<NsqProtocolException>(() => NsqFrameReader.TryReadFrame(ref buffer, out _));
    }

    [Fact]
    public void A_hostile_size_field_costs_no_allocation_and_is_refused_immediately()
    {
        var header = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(header, int.MaxValue);
        var buffer = new ReadOnlySequence<byte>(header);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var thrown = Record.Exception(() => NsqFrameReader.TryReadFrame(ref buffer, out _));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.IsType<NsqProtocolException>(thrown);
        Assert.True(allocated < 16 * 1024, $"refusing the frame allocated {allocated} bytes");
    }

    [Fact]
    public void Random_and_mutated_frames_only_ever_raise_protocol_exceptions()
    {
        var random = new Random(Seed);
        var corpus = FrameCorpus();
        var stats = new int[3];

        for (var i = 0; i < Iterations; i++)
        {
            var input = NextInput(random, corpus, i);
            var maxFrameSize = random.Next(4) == 0 ? random.Next(4, 80) : NsqFrameReader.DefaultMaxFrameSize;
            var cuts = RandomCuts(random, input.Length);

            stats[ParseFrames(new ReadOnlySequence<byte>(input), maxFrameSize, input, i)]++;
            ParseFrames(TestSequence.Split(input, cuts), maxFrameSize, input, i);
        }

        // The generator must reach every outcome often, or the test proves little.
        Assert.All(stats, count => Assert.True(count > Iterations / 20, $"outcomes ok/need-more/error: {string.Join("/", stats)}"));
    }

    [Fact]
    public void Random_and_mutated_commands_only_ever_raise_protocol_exceptions()
    {
        var random = new Random(Seed + 1);
        var corpus = CommandCorpus();
        var stats = new int[3];

        for (var i = 0; i < Iterations; i++)
        {
            var input = NextInput(random, corpus, i);
            var cuts = RandomCuts(random, input.Length);

            stats[ParseCommands(new ReadOnlySequence<byte>(input), input, i)]++;
            ParseCommands(TestSequence.Split(input, cuts), input, i);
        }

        Assert.All(stats, count => Assert.True(count > Iterations / 50, $"outcomes ok/need-more/error: {string.Join("/", stats)}"));
    }

    /// <returns>0 when the whole input was consumed, 1 when the reader stopped for more data, 2 on a protocol error.</returns>
    private static int ParseFrames(ReadOnlySequence<byte> buffer, int maxFrameSize, byte[] input, int iteration)
    {
        try
        {
            while (true)
            {
                var length = buffer.Length;
                var before = GC.GetAllocatedBytesForCurrentThread();
                var read = NsqFrameReader.TryReadFrame(ref buffer, out var frame, maxFrameSize);
                var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Check(allocated == 0, $"TryReadFrame allocated {allocated} bytes", input, iteration);

                if (!read)
                {
                    Check(buffer.Length == length, "need-more-data moved the buffer", input, iteration);
                    CheckPendingHeader(buffer, maxFrameSize, input, iteration);
                    return buffer.IsEmpty ? 0 : 1;
                }

                Check(buffer.Length < length, "a frame was read without consuming bytes", input, iteration);
                Check(frame.Size <= maxFrameSize && frame.Size >= 4, $"frame size {frame.Size} outside 4..{maxFrameSize}", input, iteration);
                Touch(frame);
            }
        }
        catch (NsqProtocolException)
        {
            return 2;
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.IAssertionException)
        {
            Assert.Fail($"iteration {iteration}: {ex.GetType().Name} escaped for input {ConformanceHex.Format(input)}: {ex}");
            throw;
        }
    }

    /// <summary>When the reader waits, the header it waits on must be one it would accept.</summary>
    private static void CheckPendingHeader(ReadOnlySequence<byte> buffer, int maxFrameSize, byte[] input, int iteration)
    {
        if (buffer.Length < 4)
        {
            return;
        }

        Span<byte> header = stackalloc byte[8];
        var available = (int)Math.Min(8, buffer.Length);
        buffer.Slice(0, available).CopyTo(header);
        var size = BinaryPrimitives.ReadInt32BigEndian(header);
        Check(size >= 4 && size <= maxFrameSize, $"waiting for a frame of size {size}", input, iteration);
        if (available == 8)
        {
            var type = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
            Check(type is >= 0 and <= 2, $"waiting for a frame of type {type}", input, iteration);
        }
    }

    private static void Touch(in NsqFrame frame)
    {
        _ = frame.IsOk || frame.IsHeartbeat || frame.IsCloseWait;
        switch (frame.Type)
        {
            case NsqFrameType.Message:
                var message = frame.AsMessage();
                _ = message.Timestamp;
                _ = message.Id.ToString();
                _ = message.Id.IsHex;
                _ = message.Body.Length + message.Attempts;
                break;
            case NsqFrameType.Error:
                var error = frame.ToServerException();
                _ = error.IsFatal;
                break;
        }
    }

    private const int MaxLine = 64;
    private const int MaxBody = 1024;

    private static int ParseCommands(ReadOnlySequence<byte> buffer, byte[] input, int iteration)
    {
        Span<Range> ranges = stackalloc Range[4];
        try
        {
            while (true)
            {
                var length = buffer.Length;
                var before = GC.GetAllocatedBytesForCurrentThread();
                var read = NsqCommandReader.TryReadCommand(ref buffer, out var command, MaxLine, MaxBody);
                var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Check(allocated == 0, $"TryReadCommand allocated {allocated} bytes", input, iteration);

                if (!read)
                {
                    Check(buffer.Length == length, "need-more-data moved the buffer", input, iteration);
                    // A reader may only wait for a line within its limit plus one bounded body.
                    Check(buffer.Length < MaxLine + 4 + MaxBody, $"waiting with {buffer.Length} bytes buffered", input, iteration);
                    return buffer.IsEmpty ? 0 : 1;
                }

                Check(buffer.Length < length, "a command was read without consuming bytes", input, iteration);
                Check(command.Line.Length < MaxLine && command.Body.Length <= MaxBody, "limits exceeded", input, iteration);
                if (!command.Line.IsEmpty)
                {
                    var line = command.Line.ToArray();
                    var count = NsqCommandReader.SplitParameters(line, ranges);
                    _ = NsqCommandReader.ParseVerb(line[ranges[0]]);
                    Check(count is >= 1 and <= 4, "split count", input, iteration);
                }
            }
        }
        catch (NsqProtocolException)
        {
            return 2;
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.IAssertionException)
        {
            Assert.Fail($"iteration {iteration}: {ex.GetType().Name} escaped for input {ConformanceHex.Format(input)}: {ex}");
            throw;
        }
    }

    private static void Check(bool condition, string what, byte[] input, int iteration)
    {
        if (!condition)
        {
            Assert.Fail($"iteration {iteration}: {what}; input {ConformanceHex.Format(input)}");
        }
    }

    private static List<byte[]> FrameCorpus()
    {
        var corpus = ConformanceFixtures.LoadAllTcp()
            .SelectMany(ConformanceFrameTests.RecordedReceives)
            .Select(r => r.Bytes)
            .Where(b => b.Length > 0)
            .ToList();
        corpus.Add(NsqFrameReaderTests.Frame(2, NsqFrameReaderTests.MessageData(1, 1, "0123456789abcdef", "body")));
        corpus.Add(NsqFrameReaderTests.Frame(1, "E_FIN_FAILED x"u8));
        return corpus;
    }

    private static List<byte[]> CommandCorpus() =>
        ConformanceFixtures.LoadAllTcp()
            .SelectMany(f => f.Steps.Where(s => s.HasSend).Select(s => s.ResolveSendBytes(f.ObservedMessageIds)!))
            .Where(b => b.Length > 0)
            .ToList();

    private static byte[] NextInput(Random random, List<byte[]> corpus, int iteration)
    {
        switch (iteration % 4)
        {
            case 0:
            {
                // Pure noise, short enough to often end mid-header.
                var bytes = new byte[random.Next(0, 48)];
                random.NextBytes(bytes);
                return bytes;
            }

            case 1:
            {
                // A plausible header with a random size and type, then some data.
                var bytes = new byte[8 + random.Next(0, 40)];
                random.NextBytes(bytes);
                BinaryPrimitives.WriteInt32BigEndian(bytes, RandomInt(random, bytes.Length));
                BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), random.Next(-1, 4));
                return bytes;
            }

            default:
                return Mutate(random, corpus[random.Next(corpus.Count)], corpus);
        }
    }

    private static int RandomInt(Random random, int length) => random.Next(6) switch
    {
        0 => random.Next(),
        1 => -random.Next(),
        2 => random.Next(0, 8),
        3 => int.MaxValue - random.Next(0, 8),
        _ => length - 4 + random.Next(-3, 4),
    };

    private static byte[] Mutate(Random random, byte[] original, List<byte[]> corpus)
    {
        var bytes = new List<byte>(original);
        var mutations = random.Next(1, 4);
        for (var m = 0; m < mutations; m++)
        {
            switch (random.Next(7))
            {
                case 0 when bytes.Count > 0:
                    bytes[random.Next(bytes.Count)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[random.Next(bytes.Count)] = (byte)random.Next(256);
                    break;
                case 2 when bytes.Count > 0:
                    bytes.RemoveRange(random.Next(bytes.Count), 1);
                    break;
                case 3:
                    bytes.Insert(random.Next(bytes.Count + 1), (byte)random.Next(256));
                    break;
                case 4 when bytes.Count > 1:
                {
                    var cut = random.Next(bytes.Count);
                    bytes.RemoveRange(cut, bytes.Count - cut);
                    break;
                }

                case 5 when bytes.Count >= 4:
                {
                    // Overwrite a 4-byte field at a random offset (often a size or a type).
                    var offset = random.Next(bytes.Count - 3);
                    var field = new byte[4];
                    BinaryPrimitives.WriteInt32BigEndian(field, RandomInt(random, bytes.Count - offset));
                    for (var k = 0; k < 4; k++)
                    {
                        bytes[offset + k] = field[k];
                    }

                    break;
                }

                default:
                    bytes.AddRange(corpus[random.Next(corpus.Count)]);
                    break;
            }
        }

        return bytes.ToArray();
    }

    private static int[] RandomCuts(Random random, int length)
    {
        if (length < 2)
        {
            return [];
        }

        return Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(1, length)).Distinct().Order().ToArray();
    }
}
