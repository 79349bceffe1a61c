using System.Text;
using System.Text.Json;

namespace NsqTyped.Conformance;

/// <summary>
/// One step of a scenario. TCP actions: <c>connect</c>, <c>send</c>, <c>receive</c>, <c>tls_handshake</c>,
/// <c>start_compression</c>, <c>sleep</c>, <c>close</c>; HTTP actions: <c>http</c>, <c>tcp_setup</c>, <c>sleep</c>.
/// Properties absent from a step are null.
/// </summary>
public sealed class ConformanceStep
{
    internal ConformanceStep(JsonElement json)
    {
        Json = json;
        SendParts = json.TryGetProperty("send_parts", out var parts) && parts.ValueKind == JsonValueKind.Array
            ? parts.EnumerateArray().Select(p => new ConformanceSendPart(p)).ToArray()
            : null;
        Frames = json.TryGetProperty("frames", out var frames) && frames.ValueKind == JsonValueKind.Array
            ? frames.EnumerateArray().Select(f => new ConformanceFrame(f)).ToArray()
            : null;
        Read = json.TryGetProperty("read", out var read) && read.ValueKind == JsonValueKind.Object ? new ConformanceReadRule(read) : null;
        Timing = json.TryGetProperty("timing", out var timing) && timing.ValueKind == JsonValueKind.Object ? new ConformanceTiming(timing) : null;
    }

    /// <summary>The raw step.</summary>
    public JsonElement Json { get; }

    /// <summary>The step number (1-based, as recorded).</summary>
    public int Number => Json.GetInt("step") ?? 0;

    /// <summary>The action (<c>send</c>, <c>receive</c>, <c>connect</c>, <c>http</c>, ...).</summary>
    public string Action => Json.GetString("action") ?? string.Empty;

    /// <summary>The connection name (<c>"c1"</c>, <c>"prod"</c>, ...).</summary>
    public string? Conn => Json.GetString("conn");

    /// <summary><c>plain</c>, <c>snappy</c>, <c>deflate</c>, <c>tls</c>, <c>tls+snappy</c>, <c>tls+deflate</c> (send/receive only).</summary>
    public string? Layer => Json.GetString("layer");

    /// <summary>Whether the step's bytes are on the plain (uncompressed, unencrypted) layer.</summary>
    public bool IsPlainLayer => Layer == "plain";

    /// <summary>The connect target (<c>nsqd_tcp</c>).</summary>
    public string? Target => Json.GetString("target");

    /// <summary>Human rendering of the sent bytes (for reading only).</summary>
    public string? SendText => Json.GetString("send_text");

    /// <summary>Exact sent bytes as hex; null when the send contains a message id (see <see cref="SendParts"/>) or nothing is sent.</summary>
    public string? SendHex => Json.GetString("send_hex");

    /// <summary>The parts of a send that quotes message ids; null when <see cref="SendHex"/> is used.</summary>
    public IReadOnlyList<ConformanceSendPart>? SendParts { get; }

    /// <summary>Whether this step sends bytes.</summary>
    public bool HasSend => SendHex is not null || SendParts is not null;

    /// <summary>The read rule.</summary>
    public ConformanceReadRule? Read { get; }

    /// <summary>The idle window or maximum wait in milliseconds.</summary>
    public int? WaitMs => Json.GetInt("wait_ms");

    /// <summary>Decoded server frames in order; null when the step has none recorded (or <c>frames: null</c>, see <see cref="FramesSummary"/>).</summary>
    public IReadOnlyList<ConformanceFrame>? Frames { get; }

    /// <summary>Text used instead of <see cref="Frames"/> when the frame count is timing-dependent.</summary>
    public string? FramesSummary => Json.GetString("frames_summary");

    /// <summary>Exact received bytes as hex (null when variable).</summary>
    public string? RawHex => Json.GetString("raw_hex");

    /// <summary>Received bytes with <c>xx</c> for variable bytes (plain layer, when <see cref="RawHex"/> is null).</summary>
    public string? RawPattern => Json.GetString("raw_pattern");

    /// <summary>Compressed layers: the NSQ byte stream after decompression.</summary>
    public string? DecodedHex => Json.GetString("decoded_hex");

    /// <summary>Compressed layers: <see cref="DecodedHex"/> with <c>xx</c> for variable bytes.</summary>
    public string? DecodedPattern => Json.GetString("decoded_pattern");

    /// <summary>Deflate layer: what canonicalisation was applied to <see cref="RawHex"/>.</summary>
    public string? RawCanonical => Json.GetString("raw_canonical");

    /// <summary>Snappy layer: the framing chunks seen (raw JSON array), or null.</summary>
    public JsonElement? SnappyChunks => Json.GetElement("snappy_chunks");

    /// <summary><c>"open"</c> or <c>"closed"</c> after the read window.</summary>
    public string? ConnectionAfter => Json.GetString("connection_after");

    /// <summary>Whether the server closed the connection within the read window.</summary>
    public bool? ConnectionClosedAfter => Json.GetBool("connection_closed_after");

    /// <summary>Timing bounds, on steps whose point is when something arrives.</summary>
    public ConformanceTiming? Timing { get; }

    /// <summary>Optional note.</summary>
    public string? Note => Json.GetString("note");

    /// <summary><c>start_compression</c>: <c>snappy</c> or <c>deflate</c>.</summary>
    public string? Compression => Json.GetString("compression");

    /// <summary><c>tls_handshake</c>: whether a client certificate was offered.</summary>
    public bool? ClientCertificate => Json.GetBool("client_certificate");

    /// <summary><c>tls_handshake</c>: <c>ok</c> or <c>failed</c>.</summary>
    public string? Result => Json.GetString("result");

    /// <summary><c>tls_handshake</c>: the server's first bytes with <c>xx</c> for variable ones.</summary>
    public string? ServerFirstBytesPattern => Json.GetString("server_first_bytes_pattern");

    /// <summary><c>sleep</c>: milliseconds to sleep.</summary>
    public int? Ms => Json.GetInt("ms");

    /// <summary><c>sleep</c>: an absolute point such as <c>nsqd_start+5400ms</c>.</summary>
    public string? Until => Json.GetString("until");

    /// <summary>HTTP (and <c>tcp_setup</c>): the target server (<c>nsqd</c> or <c>nsqlookupd</c>).</summary>
    public string? Server => Json.GetString("server");

    /// <summary>HTTP: the method.</summary>
    public string? Method => Json.GetString("method");

    /// <summary>HTTP: path and raw query string exactly as sent.</summary>
    public string? Path => Json.GetString("path");

    /// <summary>HTTP: request headers set by the capture, in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> RequestHeaders => Json.GetHeaderList("request_headers");

    /// <summary>
    /// HTTP: the request body, or null when none was sent: <c>request_body_hex</c> when present (authoritative),
    /// else <c>request_body_text</c>, where a whole-text <c>&lt;N bytes of 'x'&gt;</c> rendering means N times that byte.
    /// </summary>
    public byte[]? RequestBody =>
        Json.GetString("request_body_hex") is { } hex ? ConformanceHex.Parse(hex)
        : Json.GetString("request_body_text") is { } text ? ExpandRenderedText(text)
        : null;

    private static byte[] ExpandRenderedText(string text)
    {
        var repeated = System.Text.RegularExpressions.Regex.Match(text, @"\A<(\d+) bytes of '(.)'>\z");
        return repeated.Success
            ? Enumerable.Repeat((byte)repeated.Groups[2].Value[0], int.Parse(repeated.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray()
            : Encoding.UTF8.GetBytes(text);
    }

    /// <summary>HTTP: the response status code.</summary>
    public int? Status => Json.GetInt("status");

    /// <summary>HTTP: the response reason phrase.</summary>
    public string? Reason => Json.GetString("reason");

    /// <summary>HTTP: response headers in the order received (<c>Date</c> is <c>&lt;variable&gt;</c>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ResponseHeaders => Json.GetHeaderList("response_headers");

    /// <summary>HTTP: whether <see cref="BodyText"/>/<see cref="BodyHex"/> and non-Date headers are exact.</summary>
    public bool? BodyExact => Json.GetBool("body_exact");

    /// <summary>HTTP: the exact body as text (when exact and UTF-8).</summary>
    public string? BodyText => Json.GetString("body_text");

    /// <summary>HTTP: the exact body as hex (when exact and not UTF-8).</summary>
    public string? BodyHex => Json.GetString("body_hex");

    /// <summary>HTTP: the parsed JSON body with variable values replaced by <c>&lt;variable&gt;</c>.</summary>
    public JsonElement? BodyJson => Json.GetElement("body_json");

    /// <summary>HTTP: JSON pointers (with <c>*</c>) of variable values and their kind.</summary>
    public IReadOnlyList<ConformanceVariableField> VariableFields => Json.GetVariableFields("variable_fields");

    /// <summary>HTTP: JSON pointers of arrays to compare as multisets.</summary>
    public IReadOnlyList<string> UnorderedArrays => Json.GetStringArray("unordered_arrays");

    /// <summary>HTTP: full-match regex for text bodies with variable parts (dot matches newline).</summary>
    public string? BodyRegex => Json.GetString("body_regex");

    /// <summary>HTTP: framing note when Content-Length vs chunked is not fixed.</summary>
    public string? BodyFraming => Json.GetString("body_framing");

    /// <summary><c>tcp_setup</c>: what was set up.</summary>
    public string? Description => Json.GetString("description");

    /// <summary>The <c>observed</c> object (example values only, never a requirement).</summary>
    public JsonElement? Observed => Json.GetElement("observed");

    /// <summary><c>observed.raw_hex</c>: received bytes of the recording run when <see cref="RawHex"/> is null.</summary>
    public string? ObservedRawHex => Observed?.GetString("raw_hex");

    /// <summary><c>observed.send_hex</c>: the bytes the recording run sent for a <see cref="SendParts"/> step.</summary>
    public string? ObservedSendHex => Observed?.GetString("send_hex");

    /// <summary><c>observed.body_text</c> (HTTP).</summary>
    public string? ObservedBodyText => Observed?.GetString("body_text");

    /// <summary>
    /// The received bytes of a plain-layer step: <see cref="RawHex"/> if exact, otherwise the recording
    /// run's <see cref="ObservedRawHex"/>; null when neither is present.
    /// </summary>
    public byte[]? ReceivedBytes =>
        RawHex is { } raw ? ConformanceHex.Parse(raw)
        : ObservedRawHex is { } observed ? ConformanceHex.Parse(observed)
        : null;

    /// <summary>
    /// The exact bytes this step sends: <see cref="SendHex"/>, or <see cref="SendParts"/> with each
    /// <c>{"ref": "mN", "field": "id"}</c> replaced by <paramref name="messageIds"/>[mN] (16 bytes).
    /// Null when the step sends nothing.
    /// </summary>
    /// <exception cref="KeyNotFoundException">A referenced message is not in <paramref name="messageIds"/>.</exception>
    public byte[]? ResolveSendBytes(IReadOnlyDictionary<string, byte[]> messageIds)
    {
        ArgumentNullException.ThrowIfNull(messageIds);
        if (SendHex is { } hex)
        {
            return ConformanceHex.Parse(hex);
        }

        if (SendParts is not { } parts)
        {
            return null;
        }

        var bytes = new List<byte>();
        foreach (var part in parts)
        {
            if (part.Hex is { } partHex)
            {
                bytes.AddRange(ConformanceHex.Parse(partHex));
            }
            else if (part.Ref is { } reference)
            {
                if (part.Field != "id")
                {
                    throw new NotSupportedException($"send_parts field '{part.Field}' is not known (only 'id').");
                }

                if (!messageIds.TryGetValue(reference, out var id))
                {
                    throw new KeyNotFoundException($"Message '{reference}' referenced by step {Number} has not been received.");
                }

                bytes.AddRange(id);
            }
        }

        return bytes.ToArray();
    }

    /// <inheritdoc />
    public override string ToString() => $"step {Number} {Action} {Conn} {SendText}".TrimEnd();
}

/// <summary>One element of <c>send_parts</c>: literal hex, or a reference to a field of a received message.</summary>
public sealed class ConformanceSendPart
{
    internal ConformanceSendPart(JsonElement json) => Json = json;

    /// <summary>The raw part.</summary>
    public JsonElement Json { get; }

    /// <summary>Literal bytes as hex, or null for a reference.</summary>
    public string? Hex => Json.GetString("hex");

    /// <summary>The referenced message (<c>"m1"</c>), or null for literal bytes.</summary>
    public string? Ref => Json.GetString("ref");

    /// <summary>The referenced field (<c>"id"</c>).</summary>
    public string? Field => Json.GetString("field");
}

/// <summary>How the capture decided that the server was done answering.</summary>
public sealed class ConformanceReadRule
{
    internal ConformanceReadRule(JsonElement json) => Json = json;

    /// <summary>The raw rule.</summary>
    public JsonElement Json { get; }

    /// <summary>Read until this many ms passed without new bytes.</summary>
    public int? IdleMs => Json.GetInt("idle_ms");

    /// <summary>Total read limit in ms.</summary>
    public int? MaxMs => Json.GetInt("max_ms");

    /// <summary>Read until this many complete frames arrived (then a short EOF check).</summary>
    public int? UntilFrames => Json.GetInt("until_frames");

    /// <summary>Take exactly this many frames, leaving further bytes for the next step.</summary>
    public int? StopAfterFrames => Json.GetInt("stop_after_frames");
}

/// <summary>The acceptance window of a timing-sensitive step (ms from the start of the step).</summary>
public sealed class ConformanceTiming
{
    internal ConformanceTiming(JsonElement json) => Json = json;

    /// <summary>The raw object.</summary>
    public JsonElement Json { get; }

    /// <summary>Earliest acceptable arrival of the first frame.</summary>
    public int? FirstFrameMinMs => Json.GetInt("first_frame_min_ms");

    /// <summary>Latest acceptable arrival of the first frame.</summary>
    public int? FirstFrameMaxMs => Json.GetInt("first_frame_max_ms");

    /// <summary>Whether the real server met the window.</summary>
    public bool? Satisfied => Json.GetBool("satisfied");
}

/// <summary>A variable JSON value in an HTTP body: pointer (with <c>*</c>) and kind (e.g. <c>unix_time_s</c>).</summary>
public sealed record ConformanceVariableField(string Path, string? Kind);
