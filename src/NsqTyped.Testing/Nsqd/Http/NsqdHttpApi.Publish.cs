using System.Buffers.Binary;
using System.Globalization;
using NsqTyped.Testing.Nsqd.Broker;

namespace NsqTyped.Testing.Nsqd.Http;

internal sealed partial class NsqdHttpApi
{
    /// <summary>
    /// <c>POST /pub?topic=T[&amp;defer=ms]</c>. Order of checks as nsqd: declared size, body size, empty
    /// body, topic (created here, even when the defer value then turns out invalid), defer.
    /// </summary>
    private async ValueTask<NsqdHttpResult> PublishAsync(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        var maxMsgSize = Options.MaxMsgSize;
        if (request.ContentLength > maxMsgSize)
        {
            return NsqdHttpResult.V1Error(413, "MSG_TOO_BIG");
        }

        // One byte more than allowed, so an oversized body is told apart from one exactly at the limit.
        var readMax = maxMsgSize + 1;
        var body = await request.ReadBodyAsync(readMax, cancellationToken).ConfigureAwait(false);
        if (body.Length == readMax)
        {
            return NsqdHttpResult.V1Error(413, "MSG_TOO_BIG");
        }

        if (body.Length == 0)
        {
            return NsqdHttpResult.V1Error(400, "MSG_EMPTY");
        }

        if (!TryGetTopicFromQuery(request, out var topic, out var error))
        {
            return error;
        }

        var deferral = TimeSpan.Zero;
        if (request.Query.TryGet("defer", out var deferText))
        {
            if (!long.TryParse(deferText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var deferMs))
            {
                return NsqdHttpResult.V1Error(400, "INVALID_DEFER");
            }

            if (deferMs < 0 || deferMs > (long)Options.MaxReqTimeout.TotalMilliseconds)
            {
                return NsqdHttpResult.V1Error(400, "INVALID_DEFER");
            }

            deferral = TimeSpan.FromMilliseconds(deferMs);
        }

        try
        {
            if (deferral > TimeSpan.Zero)
            {
                topic.PublishDeferred(body, deferral);
            }
            else
            {
                topic.Publish(body);
            }
        }
        catch (InvalidOperationException)
        {
            return NsqdHttpResult.V1Error(503, "EXITING");
        }

        return NsqdHttpResult.V1Text("OK");
    }

    /// <summary>
    /// <c>POST /mpub?topic=T[&amp;binary=true]</c>: newline-separated messages (empty lines skipped) or
    /// nsqd's binary MPUB body. All messages are published together, or none when one is refused.
    /// </summary>
    private async ValueTask<NsqdHttpResult> PublishManyAsync(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > Options.MaxBodySize)
        {
            return NsqdHttpResult.V1Error(413, "BODY_TOO_BIG");
        }

        if (!TryGetTopicFromQuery(request, out var topic, out var error))
        {
            return error;
        }

        var binary = false;
        if (request.Query.TryGet("binary", out var binaryText))
        {
            // nsqd treats an unrecognised value (even an empty one) as true.
            binary = !BoolParams.TryGetValue(binaryText, out var parsed) || parsed;
        }

        var (messages, failure) = binary
            ? await ReadBinaryMessagesAsync(request, cancellationToken).ConfigureAwait(false)
            : await ReadTextMessagesAsync(request, cancellationToken).ConfigureAwait(false);
        if (failure is not null)
        {
            return failure;
        }

        try
        {
            topic.PublishMany(messages);
        }
        catch (InvalidOperationException)
        {
            return NsqdHttpResult.V1Error(503, "EXITING");
        }

        return NsqdHttpResult.V1Text("OK");
    }

    private async ValueTask<(List<ReadOnlyMemory<byte>> Messages, NsqdHttpResult? Failure)> ReadTextMessagesAsync(
        NsqdHttpRequest request,
        CancellationToken cancellationToken)
    {
        var readMax = Options.MaxBodySize + 1;
        var body = await request.ReadBodyAsync(readMax, cancellationToken).ConfigureAwait(false);
        var messages = new List<ReadOnlyMemory<byte>>();
        var memory = body.AsMemory();
        var total = 0L;
        while (true)
        {
            var newline = memory.Span.IndexOf((byte)'\n');
            var block = newline < 0 ? memory : memory[..(newline + 1)];
            var last = newline < 0;
            memory = last ? default : memory[(newline + 1)..];
            total += block.Length;
            if (total == readMax)
            {
                return (messages, NsqdHttpResult.V1Error(413, "BODY_TOO_BIG"));
            }

            if (!block.IsEmpty && block.Span[^1] == '\n')
            {
                block = block[..^1];
            }

            if (!block.IsEmpty)
            {
                if (block.Length > Options.MaxMsgSize)
                {
                    return (messages, NsqdHttpResult.V1Error(413, "MSG_TOO_BIG"));
                }

                messages.Add(block);
            }

            if (last)
            {
                return (messages, null);
            }
        }
    }

    /// <summary>nsqd's <c>readMPUB</c> over the request body: <c>[int32 n]([int32 size][bytes])*n</c>.</summary>
    private async ValueTask<(List<ReadOnlyMemory<byte>> Messages, NsqdHttpResult? Failure)> ReadBinaryMessagesAsync(
        NsqdHttpRequest request,
        CancellationToken cancellationToken)
    {
        var messages = new List<ReadOnlyMemory<byte>>();
        var length = new byte[4];
        if (!await request.ReadExactlyAsync(length, cancellationToken).ConfigureAwait(false))
        {
            return (messages, NsqdHttpResult.V1Error(413, "BAD_BODY"));
        }

        var count = BinaryPrimitives.ReadInt32BigEndian(length);

        // 4 bytes for the count, at least 5 (size + one byte) per message.
        var maxMessages = (Options.MaxBodySize - 4) / 5;
        if (count <= 0 || count > maxMessages)
        {
            return (messages, NsqdHttpResult.V1Error(413, "BAD_BODY"));
        }

        for (var i = 0; i < count; i++)
        {
            if (!await request.ReadExactlyAsync(length, cancellationToken).ConfigureAwait(false))
            {
                return (messages, NsqdHttpResult.V1Error(413, "BAD_MESSAGE"));
            }

            var size = BinaryPrimitives.ReadInt32BigEndian(length);
            if (size <= 0 || size > Options.MaxMsgSize)
            {
                return (messages, NsqdHttpResult.V1Error(413, "BAD_MESSAGE"));
            }

            var message = new byte[size];
            if (!await request.ReadExactlyAsync(message, cancellationToken).ConfigureAwait(false))
            {
                return (messages, NsqdHttpResult.V1Error(413, "BAD_MESSAGE"));
            }

            messages.Add(message);
        }

        return (messages, null);
    }
}
