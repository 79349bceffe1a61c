using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Text;

namespace NsqTyped.Protocol;

/// <summary>
/// Writes the protocol magic and every client command of NSQ TCP protocol V2 into an
/// <see cref="IBufferWriter{T}"/>, one <c>GetSpan</c> per command and no allocation. The one command
/// writer of the library.
/// </summary>
/// <remarks>
/// Topic and channel names are validated here too (cheaply), so a caller can never inject a
/// newline or a space into the command line. Bodies must be non-empty: nsqd rejects empty messages
/// and closes the connection, so an empty body is an <see cref="ArgumentException"/> before any I/O.
/// </remarks>
public static class NsqCommandWriter
{
    /// <summary>The protocol magic: two spaces and <c>V2</c>.</summary>
    public static ReadOnlySpan<byte> MagicV2 => "  V2"u8;

    private static ReadOnlySpan<byte> Identify => "IDENTIFY\n"u8;
    private static ReadOnlySpan<byte> Auth => "AUTH\n"u8;
    private static ReadOnlySpan<byte> Sub => "SUB "u8;
    private static ReadOnlySpan<byte> Pub => "PUB "u8;
    private static ReadOnlySpan<byte> Mpub => "MPUB "u8;
    private static ReadOnlySpan<byte> Dpub => "DPUB "u8;
    private static ReadOnlySpan<byte> Rdy => "RDY "u8;
    private static ReadOnlySpan<byte> Fin => "FIN "u8;
    private static ReadOnlySpan<byte> Req => "REQ "u8;
    private static ReadOnlySpan<byte> Touch => "TOUCH "u8;
    private static ReadOnlySpan<byte> Cls => "CLS\n"u8;
    private static ReadOnlySpan<byte> Nop => "NOP\n"u8;

    // Longest decimal int64 with sign.
    private const int MaxNumberLength = 20;

    /// <summary>Writes the protocol magic (<c>"  V2"</c>).</summary>
    public static void WriteMagic(IBufferWriter<byte> writer) => WriteRaw(writer, MagicV2);

    /// <summary>Writes <c>IDENTIFY\n[size][json]</c>.</summary>
    /// <param name="writer">Destination.</param>
    /// <param name="json">The UTF-8 JSON body (see <see cref="NsqIdentifyRequest"/>).</param>
    /// <exception cref="ArgumentException"><paramref name="json"/> is empty (nsqd closes the connection on an empty IDENTIFY body).</exception>
    public static void WriteIdentify(IBufferWriter<byte> writer, ReadOnlySpan<byte> json)
    {
        ThrowIfEmpty(json.Length, nameof(json));
        WriteWithBody(writer, Identify, json);
    }

    /// <summary>Writes <c>IDENTIFY\n[size][json]</c> for <paramref name="request"/>.</summary>
    public static void WriteIdentify(IBufferWriter<byte> writer, NsqIdentifyRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        // IDENTIFY happens once per connection; the temporary array is not on a hot path.
        WriteIdentify(writer, request.ToUtf8Json());
    }

    /// <summary>Writes <c>AUTH\n[size][secret]</c>.</summary>
    /// <exception cref="ArgumentException"><paramref name="secret"/> is empty (nsqd closes the connection on an empty AUTH body).</exception>
    public static void WriteAuth(IBufferWriter<byte> writer, ReadOnlySpan<byte> secret)
    {
        ThrowIfEmpty(secret.Length, nameof(secret));
        WriteWithBody(writer, Auth, secret);
    }

    /// <summary>Writes <c>SUB &lt;topic&gt; &lt;channel&gt;\n</c>.</summary>
    /// <exception cref="ArgumentException">A name is invalid.</exception>
    public static void WriteSub(IBufferWriter<byte> writer, string topic, string channel)
    {
        ArgumentNullException.ThrowIfNull(writer);
        NsqNames.ThrowIfInvalidTopic(topic);
        NsqNames.ThrowIfInvalidChannel(channel);
        var length = Sub.Length + topic.Length + 1 + channel.Length + 1;
        var span = writer.GetSpan(length);
        var pos = Copy(span, 0, Sub);
        pos += Encoding.ASCII.GetBytes(topic, span[pos..]);
        span[pos++] = (byte)' ';
        pos += Encoding.ASCII.GetBytes(channel, span[pos..]);
        span[pos++] = (byte)'\n';
        writer.Advance(pos);
    }

    /// <summary>Writes <c>PUB &lt;topic&gt;\n[size][body]</c>.</summary>
    /// <exception cref="ArgumentException">The topic is invalid or the body is empty.</exception>
    public static void WritePub(IBufferWriter<byte> writer, string topic, ReadOnlySpan<byte> body)
    {
        ThrowIfEmpty(body.Length);
        WriteTopicCommandWithBody(writer, Pub, topic, -1, body, ReadOnlySequence<byte>.Empty);
    }

    /// <summary>Writes <c>PUB &lt;topic&gt;\n[size][body]</c> with a body held in a sequence.</summary>
    /// <exception cref="ArgumentException">The topic is invalid or the body is empty.</exception>
    public static void WritePub(IBufferWriter<byte> writer, string topic, in ReadOnlySequence<byte> body)
    {
        ThrowIfEmpty(body.Length);
        WriteTopicCommandWithBody(writer, Pub, topic, -1, default, body);
    }

    /// <summary>Writes <c>DPUB &lt;topic&gt; &lt;defer_ms&gt;\n[size][body]</c>.</summary>
    /// <exception cref="ArgumentException">The topic is invalid or the body is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="deferMilliseconds"/> is negative.</exception>
    public static void WriteDpub(IBufferWriter<byte> writer, string topic, long deferMilliseconds, ReadOnlySpan<byte> body)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(deferMilliseconds);
        ThrowIfEmpty(body.Length);
        WriteTopicCommandWithBody(writer, Dpub, topic, deferMilliseconds, body, ReadOnlySequence<byte>.Empty);
    }

    /// <summary>Writes <c>DPUB &lt;topic&gt; &lt;defer_ms&gt;\n[size][body]</c> with a body held in a sequence.</summary>
    /// <exception cref="ArgumentException">The topic is invalid or the body is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="deferMilliseconds"/> is negative.</exception>
    public static void WriteDpub(IBufferWriter<byte> writer, string topic, long deferMilliseconds, in ReadOnlySequence<byte> body)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(deferMilliseconds);
        ThrowIfEmpty(body.Length);
        WriteTopicCommandWithBody(writer, Dpub, topic, deferMilliseconds, default, body);
    }

    /// <summary>
    /// Writes <c>MPUB &lt;topic&gt;\n[int32 body_size][int32 count]([int32 size][data])*</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The topic is invalid, there are no messages, or a message is empty.</exception>
    public static void WriteMpub(IBufferWriter<byte> writer, string topic, ReadOnlySpan<ReadOnlyMemory<byte>> messages)
    {
        ArgumentNullException.ThrowIfNull(writer);
        NsqNames.ThrowIfInvalidTopic(topic);
        if (messages.IsEmpty)
        {
            throw new ArgumentException("MPUB needs at least one message.", nameof(messages));
        }

        long bodySize = 4;
        foreach (var message in messages)
        {
            if (message.IsEmpty)
            {
                throw new ArgumentException("MPUB messages must not be empty: nsqd rejects empty messages.", nameof(messages));
            }

            bodySize += 4 + message.Length;
        }

        if (bodySize > int.MaxValue)
        {
            throw new ArgumentException("The MPUB body exceeds 2 GiB.", nameof(messages));
        }

        var length = Mpub.Length + topic.Length + 1 + 4 + (int)bodySize;
        var span = writer.GetSpan(length);
        var pos = Copy(span, 0, Mpub);
        pos += Encoding.ASCII.GetBytes(topic, span[pos..]);
        span[pos++] = (byte)'\n';
        BinaryPrimitives.WriteInt32BigEndian(span[pos..], (int)bodySize);
        BinaryPrimitives.WriteInt32BigEndian(span[(pos + 4)..], messages.Length);
        pos += 8;
        foreach (var message in messages)
        {
            BinaryPrimitives.WriteInt32BigEndian(span[pos..], message.Length);
            pos += 4;
            pos = Copy(span, pos, message.Span);
        }

        writer.Advance(pos);
    }

    /// <summary>
    /// Writes the line of a PUB, <c>PUB &lt;topic&gt;\n</c>, without its body. Followed by one
    /// <see cref="WriteSizedBody"/>, it is the same command as <see cref="WritePub(IBufferWriter{byte}, string, ReadOnlySpan{byte})"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The topic is invalid.</exception>
    public static void WritePubLine(IBufferWriter<byte> writer, string topic)
    {
        ArgumentNullException.ThrowIfNull(writer);
        NsqNames.ThrowIfInvalidTopic(topic);
        var span = writer.GetSpan(Pub.Length + topic.Length + 1);
        var pos = Copy(span, 0, Pub);
        pos += Encoding.ASCII.GetBytes(topic, span[pos..]);
        span[pos++] = (byte)'\n';
        writer.Advance(pos);
    }

    /// <summary>
    /// Writes the head of an MPUB, <c>MPUB &lt;topic&gt;\n[int32 body_size][int32 count]</c>; the
    /// <paramref name="count"/> messages follow, each written with <see cref="WriteSizedBody"/>.
    /// </summary>
    /// <param name="writer">The destination.</param>
    /// <param name="topic">A valid topic name.</param>
    /// <param name="messageBytes">The sum of the message lengths, without their size prefixes.</param>
    /// <param name="count">How many messages follow (at least one).</param>
    /// <exception cref="ArgumentException">The topic is invalid or the body would exceed 2 GiB.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is not positive.</exception>
    public static void WriteMpubHead(IBufferWriter<byte> writer, string topic, long messageBytes, int count)
    {
        ArgumentNullException.ThrowIfNull(writer);
        NsqNames.ThrowIfInvalidTopic(topic);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var bodySize = 4 + (4L * count) + messageBytes;
        if (bodySize > int.MaxValue)
        {
            throw new ArgumentException("The MPUB body exceeds 2 GiB.", nameof(messageBytes));
        }

        var span = writer.GetSpan(Mpub.Length + topic.Length + 1 + 8);
        var pos = Copy(span, 0, Mpub);
        pos += Encoding.ASCII.GetBytes(topic, span[pos..]);
        span[pos++] = (byte)'\n';
        BinaryPrimitives.WriteInt32BigEndian(span[pos..], (int)bodySize);
        BinaryPrimitives.WriteInt32BigEndian(span[(pos + 4)..], count);
        writer.Advance(pos + 8);
    }

    /// <summary>Writes <c>[int32 size][body]</c>: the body of a PUB, or one message of an MPUB.</summary>
    /// <exception cref="ArgumentException">The body is empty.</exception>
    public static void WriteSizedBody(IBufferWriter<byte> writer, ReadOnlySpan<byte> body)
    {
        ThrowIfEmpty(body.Length);
        WriteWithBody(writer, default, body);
    }

    /// <summary>Writes <c>RDY &lt;count&gt;\n</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    public static void WriteRdy(IBufferWriter<byte> writer, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        WriteVerbNumber(writer, Rdy, count);
    }

    /// <summary>Writes <c>FIN &lt;id&gt;\n</c>.</summary>
    public static void WriteFin(IBufferWriter<byte> writer, in NsqMessageId id) => WriteVerbId(writer, Fin, id, -1);

    /// <summary>Writes <c>REQ &lt;id&gt; &lt;timeout_ms&gt;\n</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeoutMilliseconds"/> is negative.</exception>
    public static void WriteReq(IBufferWriter<byte> writer, in NsqMessageId id, long timeoutMilliseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(timeoutMilliseconds);
        WriteVerbId(writer, Req, id, timeoutMilliseconds);
    }

    /// <summary>Writes <c>TOUCH &lt;id&gt;\n</c>.</summary>
    public static void WriteTouch(IBufferWriter<byte> writer, in NsqMessageId id) => WriteVerbId(writer, Touch, id, -1);

    /// <summary>Writes <c>CLS\n</c>.</summary>
    public static void WriteCls(IBufferWriter<byte> writer) => WriteRaw(writer, Cls);

    /// <summary>Writes <c>NOP\n</c>.</summary>
    public static void WriteNop(IBufferWriter<byte> writer) => WriteRaw(writer, Nop);

    private static void WriteRaw(IBufferWriter<byte> writer, ReadOnlySpan<byte> bytes)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var span = writer.GetSpan(bytes.Length);
        bytes.CopyTo(span);
        writer.Advance(bytes.Length);
    }

    private static void WriteWithBody(IBufferWriter<byte> writer, ReadOnlySpan<byte> verbLine, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var length = verbLine.Length + 4 + body.Length;
        var span = writer.GetSpan(length);
        var pos = Copy(span, 0, verbLine);
        BinaryPrimitives.WriteInt32BigEndian(span[pos..], body.Length);
        pos = Copy(span, pos + 4, body);
        writer.Advance(pos);
    }

    private static void WriteTopicCommandWithBody(
        IBufferWriter<byte> writer, ReadOnlySpan<byte> verb, string topic, long number, ReadOnlySpan<byte> body, in ReadOnlySequence<byte> sequenceBody)
    {
        ArgumentNullException.ThrowIfNull(writer);
        NsqNames.ThrowIfInvalidTopic(topic);
        var bodyLength = body.IsEmpty ? sequenceBody.Length : body.Length;
        if (bodyLength > int.MaxValue - 256)
        {
            throw new ArgumentException("The message body exceeds 2 GiB.", nameof(body));
        }

        var length = verb.Length + topic.Length + 1 + MaxNumberLength + 1 + 4 + (int)bodyLength;
        var span = writer.GetSpan(length);
        var pos = Copy(span, 0, verb);
        pos += Encoding.ASCII.GetBytes(topic, span[pos..]);
        if (number >= 0)
        {
            span[pos++] = (byte)' ';
            pos += FormatNumber(number, span[pos..]);
        }

        span[pos++] = (byte)'\n';
        BinaryPrimitives.WriteInt32BigEndian(span[pos..], (int)bodyLength);
        pos += 4;
        if (body.IsEmpty)
        {
            sequenceBody.CopyTo(span[pos..]);
            pos += (int)bodyLength;
        }
        else
        {
            pos = Copy(span, pos, body);
        }

        writer.Advance(pos);
    }

    private static void WriteVerbNumber(IBufferWriter<byte> writer, ReadOnlySpan<byte> verb, long number)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var span = writer.GetSpan(verb.Length + MaxNumberLength + 1);
        var pos = Copy(span, 0, verb);
        pos += FormatNumber(number, span[pos..]);
        span[pos++] = (byte)'\n';
        writer.Advance(pos);
    }

    private static void WriteVerbId(IBufferWriter<byte> writer, ReadOnlySpan<byte> verb, in NsqMessageId id, long number)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var span = writer.GetSpan(verb.Length + NsqMessageId.Length + 1 + MaxNumberLength + 1);
        var pos = Copy(span, 0, verb);
        id.CopyTo(span[pos..]);
        pos += NsqMessageId.Length;
        if (number >= 0)
        {
            span[pos++] = (byte)' ';
            pos += FormatNumber(number, span[pos..]);
        }

        span[pos++] = (byte)'\n';
        writer.Advance(pos);
    }

    private static int FormatNumber(long number, Span<byte> destination)
    {
        Utf8Formatter.TryFormat(number, destination, out var written);
        return written;
    }

    private static int Copy(Span<byte> destination, int position, ReadOnlySpan<byte> source)
    {
        source.CopyTo(destination[position..]);
        return position + source.Length;
    }

    private static void ThrowIfEmpty(long length, string paramName = "body")
    {
        if (length == 0)
        {
            throw new ArgumentException("A body must not be empty: nsqd rejects empty bodies and closes the connection.", paramName);
        }
    }
}
