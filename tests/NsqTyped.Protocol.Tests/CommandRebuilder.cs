using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace NsqTyped.Protocol.Tests;

/// <summary>One client command found in recorded bytes, and the same command rebuilt by <see cref="NsqCommandWriter"/>.</summary>
internal sealed record RebuiltCommand(string Verb, byte[] Recorded, byte[] Rebuilt, bool ViaTypedModel);

/// <summary>
/// Splits recorded client bytes into commands with <see cref="NsqCommandReader"/> and rebuilds each
/// well-formed one from its parameters. "Well-formed" means what the writer can express: a known verb,
/// the right parameter count, valid names, canonical non-negative numbers, 16-byte ids, non-empty
/// and self-consistent bodies, and a plain <c>\n</c> line end. Anything else is malformed on purpose
/// (the fixtures probe nsqd's error handling) and is skipped, together with the rest of that send,
/// because its framing can no longer be trusted.
/// </summary>
internal static class CommandRebuilder
{
    public static (List<RebuiltCommand> Rebuilt, List<string> Skipped) Rebuild(byte[] sent)
    {
        var rebuilt = new List<RebuiltCommand>();
        var skipped = new List<string>();
        var buffer = new ReadOnlySequence<byte>(sent);

        if (sent.AsSpan().StartsWith(NsqCommandWriter.MagicV2))
        {
            rebuilt.Add(new RebuiltCommand("MAGIC", NsqCommandWriter.MagicV2.ToArray(), Write(NsqCommandWriter.WriteMagic), false));
            buffer = buffer.Slice(NsqCommandWriter.MagicV2.Length);
        }

        while (!buffer.IsEmpty)
        {
            var start = buffer.Start;
            NsqClientCommand command;
            try
            {
                if (!NsqCommandReader.TryReadCommand(ref buffer, out command))
                {
                    skipped.Add($"incomplete: {Render(buffer)}");
                    break;
                }
            }
            catch (NsqProtocolException ex)
            {
                skipped.Add($"unreadable ({ex.Message}): {Render(buffer)}");
                break;
            }

            var recorded = new ReadOnlySequence<byte>(sent).Slice(start, buffer.Start).ToArray();
            var result = TryRebuild(command, recorded);
            if (result is null)
            {
                skipped.Add($"malformed: {Render(new ReadOnlySequence<byte>(recorded))}");
                break;
            }

            rebuilt.Add(result);
        }

        return (rebuilt, skipped);
    }

    private static RebuiltCommand? TryRebuild(in NsqClientCommand command, byte[] recorded)
    {
        // nsqd tolerates "\r\n"; the writer always emits "\n", so such a line is not one it could produce.
        var lineEnd = (int)command.Line.Length;
        if (recorded.Length <= lineEnd || recorded[lineEnd] != (byte)'\n')
        {
            return null;
        }

        var line = command.Line.ToArray();
        Span<Range> ranges = stackalloc Range[8];
        var count = NsqCommandReader.SplitParameters(line, ranges);
        var parameters = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            parameters[i] = line[ranges[i]];
        }

        var body = command.Body.ToArray();
        var verb = Encoding.ASCII.GetString(parameters[0]);
        var typed = false;
        byte[]? bytes = command.Verb switch
        {
            NsqCommandVerb.Identify when count == 1 && TryIdentify(body, out var request, out typed) =>
                typed ? Write(w => NsqCommandWriter.WriteIdentify(w, request!)) : Write(w => NsqCommandWriter.WriteIdentify(w, body)),
            NsqCommandVerb.Auth when count == 1 && body.Length > 0 => Write(w => NsqCommandWriter.WriteAuth(w, body)),
            NsqCommandVerb.Sub when count == 3 && Topic(parameters[1]) is { } topic && Channel(parameters[2]) is { } channel =>
                Write(w => NsqCommandWriter.WriteSub(w, topic, channel)),
            NsqCommandVerb.Pub when count == 2 && Topic(parameters[1]) is { } topic && body.Length > 0 =>
                Write(w => NsqCommandWriter.WritePub(w, topic, body)),
            NsqCommandVerb.Dpub when count == 3 && Topic(parameters[1]) is { } topic && Number(parameters[2]) is { } defer && body.Length > 0 =>
                Write(w => NsqCommandWriter.WriteDpub(w, topic, defer, body)),
            NsqCommandVerb.Mpub when count == 2 && Topic(parameters[1]) is { } topic && MpubMessages(body) is { } messages =>
                Write(w => NsqCommandWriter.WriteMpub(w, topic, messages)),
            NsqCommandVerb.Rdy when count == 2 && Number(parameters[1]) is { } rdy => Write(w => NsqCommandWriter.WriteRdy(w, rdy)),
            NsqCommandVerb.Fin when count == 2 && Id(parameters[1]) is { } id => Write(w => NsqCommandWriter.WriteFin(w, id)),
            NsqCommandVerb.Touch when count == 2 && Id(parameters[1]) is { } id => Write(w => NsqCommandWriter.WriteTouch(w, id)),
            NsqCommandVerb.Req when count == 3 && Id(parameters[1]) is { } id && Number(parameters[2]) is { } timeout =>
                Write(w => NsqCommandWriter.WriteReq(w, id, timeout)),
            NsqCommandVerb.Cls when count == 1 => Write(NsqCommandWriter.WriteCls),
            NsqCommandVerb.Nop when count == 1 => Write(NsqCommandWriter.WriteNop),
            _ => null,
        };

        return bytes is null ? null : new RebuiltCommand(verb, recorded, bytes, typed);
    }

    private static byte[] Write(Action<IBufferWriter<byte>> write)
    {
        var writer = new ArrayBufferWriter<byte>();
        write(writer);
        return writer.WrittenSpan.ToArray();
    }

    private static string? Topic(byte[] bytes) => Encoding.Latin1.GetString(bytes) is var name && NsqNames.IsValidTopicName(name) ? name : null;

    private static string? Channel(byte[] bytes) => Encoding.Latin1.GetString(bytes) is var name && NsqNames.IsValidChannelName(name) ? name : null;

    /// <summary>A canonical non-negative decimal (what the writer would print for the same value).</summary>
    private static long? Number(byte[] bytes)
    {
        if (!Utf8Parser.TryParse(bytes, out long value, out var consumed) || consumed != bytes.Length || value < 0)
        {
            return null;
        }

        Span<byte> canonical = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, canonical, out var written);
        return canonical[..written].SequenceEqual(bytes) ? value : null;
    }

    private static NsqMessageId? Id(byte[] bytes) => bytes.Length == NsqMessageId.Length ? NsqMessageId.Read(bytes) : null;

    private static ReadOnlyMemory<byte>[]? MpubMessages(byte[] body)
    {
        var rest = new ReadOnlySequence<byte>(body);
        if (!NsqCommandReader.TryReadInt32(ref rest, out var count) || count < 1 || count > body.Length / 5)
        {
            return null;
        }

        var messages = new ReadOnlyMemory<byte>[count];
        for (var i = 0; i < count; i++)
        {
            if (!NsqCommandReader.TryReadInt32(ref rest, out var size) || size < 1 || size > rest.Length)
            {
                return null;
            }

            NsqCommandReader.TryReadBytes(ref rest, size, out var message);
            messages[i] = message.ToArray();
        }

        return rest.IsEmpty ? messages : null;
    }

    /// <summary>
    /// IDENTIFY is well-formed when its body is a JSON object of the request model. When the model
    /// reproduces the body byte for byte, the typed overload is used, which checks the model's key
    /// order too; otherwise (unknown keys, another order) the JSON bytes are passed through.
    /// </summary>
    private static bool TryIdentify(byte[] body, out NsqIdentifyRequest? request, out bool typed)
    {
        typed = false;
        request = null;
        try
        {
            request = JsonSerializer.Deserialize(body, NsqProtocolJsonContext.Default.NsqIdentifyRequest);
        }
        catch (JsonException)
        {
            return false;
        }

        if (request is null)
        {
            return false;
        }

        typed = request.ToUtf8Json().AsSpan().SequenceEqual(body);
        return true;
    }

    private static string Render(in ReadOnlySequence<byte> bytes)
    {
        var text = Encoding.Latin1.GetString(bytes.Slice(0, Math.Min(bytes.Length, 60)).ToArray());
        return text.Replace("\n", "\\n", StringComparison.Ordinal);
    }
}
