using System.Buffers;
using System.Buffers.Binary;

namespace NsqTyped.Protocol;

/// <summary>Client commands of NSQ TCP protocol V2.</summary>
public enum NsqCommandVerb
{
    /// <summary>Not a command nsqd knows (nsqd answers <c>E_INVALID invalid command</c>).</summary>
    Unknown = 0,
    /// <summary><c>IDENTIFY</c> (has a body).</summary>
    Identify,
    /// <summary><c>AUTH</c> (has a body).</summary>
    Auth,
    /// <summary><c>SUB topic channel</c>.</summary>
    Sub,
    /// <summary><c>PUB topic</c> (has a body).</summary>
    Pub,
    /// <summary><c>MPUB topic</c> (has a body).</summary>
    Mpub,
    /// <summary><c>DPUB topic defer_ms</c> (has a body).</summary>
    Dpub,
    /// <summary><c>RDY count</c>.</summary>
    Rdy,
    /// <summary><c>FIN id</c>.</summary>
    Fin,
    /// <summary><c>REQ id timeout_ms</c>.</summary>
    Req,
    /// <summary><c>TOUCH id</c>.</summary>
    Touch,
    /// <summary><c>CLS</c>.</summary>
    Cls,
    /// <summary><c>NOP</c>.</summary>
    Nop,
}

/// <summary>A complete client command: its line (without the newline) and its body, if any.</summary>
public readonly struct NsqClientCommand
{
    /// <summary>Creates a command view.</summary>
    public NsqClientCommand(NsqCommandVerb verb, ReadOnlySequence<byte> line, ReadOnlySequence<byte> body)
    {
        Verb = verb;
        Line = line;
        Body = body;
    }

    /// <summary>The command verb.</summary>
    public NsqCommandVerb Verb { get; }

    /// <summary>The command line without <c>\n</c> (and without a trailing <c>\r</c>).</summary>
    public ReadOnlySequence<byte> Line { get; }

    /// <summary>The body after the size field (empty for commands without one).</summary>
    public ReadOnlySequence<byte> Body { get; }
}

/// <summary>
/// Reads client commands the way nsqd does (<c>protocol_v2.go</c>): a line up to <c>\n</c> with a
/// trailing <c>\r</c> stripped, parameters split on single spaces, then for IDENTIFY/AUTH/PUB/MPUB/DPUB
/// an int32 big-endian size and that many bytes. Used by the embedded server and the tests; the
/// client writes commands with <see cref="NsqCommandWriter"/>.
/// </summary>
public static class NsqCommandReader
{
    /// <summary>Reads one line; <see langword="false"/> when no <c>\n</c> has arrived yet.</summary>
    /// <param name="buffer">Received bytes; advanced past the newline on success.</param>
    /// <param name="line">The line without <c>\n</c> and without a trailing <c>\r</c>.</param>
    /// <param name="maxLineLength">Longest line accepted, newline included.</param>
    /// <exception cref="NsqProtocolException">No newline within <paramref name="maxLineLength"/> bytes.</exception>
    public static bool TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line, int maxLineLength)
    {
        var newline = buffer.PositionOf((byte)'\n');
        if (newline is null)
        {
            line = default;
            if (buffer.Length >= maxLineLength)
            {
                throw new NsqProtocolException($"Command line longer than {maxLineLength} bytes.");
            }

            return false;
        }

        line = buffer.Slice(0, newline.Value);
        if (line.Length >= maxLineLength)
        {
            throw new NsqProtocolException($"Command line longer than {maxLineLength} bytes.");
        }

        buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
        if (!line.IsEmpty && EndsWithCarriageReturn(line))
        {
            line = line.Slice(0, line.Length - 1);
        }

        return true;
    }

    /// <summary>Reads a big-endian int32 (a body size or count); <see langword="false"/> when fewer than 4 bytes arrived.</summary>
    public static bool TryReadInt32(ref ReadOnlySequence<byte> buffer, out int value)
    {
        value = 0;
        if (buffer.Length < 4)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(bytes);
        value = BinaryPrimitives.ReadInt32BigEndian(bytes);
        buffer = buffer.Slice(4);
        return true;
    }

    /// <summary>Takes <paramref name="length"/> bytes; <see langword="false"/> when they have not all arrived.</summary>
    public static bool TryReadBytes(ref ReadOnlySequence<byte> buffer, int length, out ReadOnlySequence<byte> bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (buffer.Length < length)
        {
            bytes = default;
            return false;
        }

        bytes = buffer.Slice(0, length);
        buffer = buffer.Slice(length);
        return true;
    }

    /// <summary>
    /// Splits a command line on single spaces like Go's <c>bytes.Split(line, " ")</c>: two spaces in a
    /// row give an empty parameter. Returns how many ranges were written; stops at
    /// <paramref name="ranges"/>' length (the last range then covers the rest of the line).
    /// </summary>
    public static int SplitParameters(ReadOnlySpan<byte> line, Span<Range> ranges)
    {
        if (ranges.IsEmpty)
        {
            return 0;
        }

        var count = 0;
        var start = 0;
        while (count < ranges.Length - 1)
        {
            var space = line[start..].IndexOf((byte)' ');
            if (space < 0)
            {
                break;
            }

            ranges[count++] = new Range(start, start + space);
            start += space + 1;
        }

        ranges[count++] = new Range(start, line.Length);
        return count;
    }

    /// <summary>Maps the first word of a command line to its verb (case-sensitive, as nsqd).</summary>
    public static NsqCommandVerb ParseVerb(ReadOnlySpan<byte> verb) => verb switch
    {
        _ when verb.SequenceEqual("IDENTIFY"u8) => NsqCommandVerb.Identify,
        _ when verb.SequenceEqual("AUTH"u8) => NsqCommandVerb.Auth,
        _ when verb.SequenceEqual("SUB"u8) => NsqCommandVerb.Sub,
        _ when verb.SequenceEqual("PUB"u8) => NsqCommandVerb.Pub,
        _ when verb.SequenceEqual("MPUB"u8) => NsqCommandVerb.Mpub,
        _ when verb.SequenceEqual("DPUB"u8) => NsqCommandVerb.Dpub,
        _ when verb.SequenceEqual("RDY"u8) => NsqCommandVerb.Rdy,
        _ when verb.SequenceEqual("FIN"u8) => NsqCommandVerb.Fin,
        _ when verb.SequenceEqual("REQ"u8) => NsqCommandVerb.Req,
        _ when verb.SequenceEqual("TOUCH"u8) => NsqCommandVerb.Touch,
        _ when verb.SequenceEqual("CLS"u8) => NsqCommandVerb.Cls,
        _ when verb.SequenceEqual("NOP"u8) => NsqCommandVerb.Nop,
        _ => NsqCommandVerb.Unknown,
    };

    /// <summary>Whether the command carries a <c>[size][data]</c> body after its line.</summary>
    public static bool HasBody(NsqCommandVerb verb) =>
        verb is NsqCommandVerb.Identify or NsqCommandVerb.Auth or NsqCommandVerb.Pub or NsqCommandVerb.Mpub or NsqCommandVerb.Dpub;

    /// <summary>
    /// Reads one complete command (line and, for body commands, the sized body). Returns
    /// <see langword="false"/> and leaves <paramref name="buffer"/> untouched when it has not fully arrived.
    /// </summary>
    /// <exception cref="NsqProtocolException">The line is too long, or the body size is negative or above <paramref name="maxBodySize"/>.</exception>
    public static bool TryReadCommand(ref ReadOnlySequence<byte> buffer, out NsqClientCommand command, int maxLineLength = 4096, int maxBodySize = 5 * 1024 * 1024)
    {
        command = default;
        var rest = buffer;
        if (!TryReadLine(ref rest, out var line, maxLineLength))
        {
            return false;
        }

        Span<byte> verbBytes = stackalloc byte[8];
        var verbLength = line.PositionOf((byte)' ') is { } space ? line.Slice(0, space).Length : line.Length;
        var verb = NsqCommandVerb.Unknown;
        if (verbLength <= verbBytes.Length)
        {
            line.Slice(0, verbLength).CopyTo(verbBytes);
            verb = ParseVerb(verbBytes[..(int)verbLength]);
        }

        var body = ReadOnlySequence<byte>.Empty;
        if (HasBody(verb))
        {
            if (!TryReadInt32(ref rest, out var size))
            {
                return false;
            }

            if (size < 0 || size > maxBodySize)
            {
                throw new NsqProtocolException($"Body size {size} is outside 0..{maxBodySize}.");
            }

            if (!TryReadBytes(ref rest, size, out body))
            {
                return false;
            }
        }

        command = new NsqClientCommand(verb, line, body);
        buffer = rest;
        return true;
    }

    private static bool EndsWithCarriageReturn(in ReadOnlySequence<byte> line)
    {
        Span<byte> last = stackalloc byte[1];
        line.Slice(line.Length - 1).CopyTo(last);
        return last[0] == (byte)'\r';
    }
}
