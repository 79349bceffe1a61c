using System.Text;
using System.Text.Json;

namespace NsqTyped.Conformance;

/// <summary>One decoded server frame as recorded (<c>frames[*]</c> of a step).</summary>
public sealed class ConformanceFrame
{
    internal ConformanceFrame(JsonElement json) => Json = json;

    /// <summary>The raw frame object.</summary>
    public JsonElement Json { get; }

    /// <summary><c>response</c>, <c>error</c> or <c>message</c>.</summary>
    public string Type => Json.GetString("type") ?? string.Empty;

    /// <summary>The wire frame type (0 response, 1 error, 2 message).</summary>
    public int FrameType => Json.GetInt("frame_type") ?? -1;

    /// <summary>The wire size field (frame type + data).</summary>
    public int Size => Json.GetInt("size") ?? -1;

    /// <summary>The data as text when it is UTF-8 (null for messages, binary data, or templated errors).</summary>
    public string? DataText => Json.GetString("data_text");

    /// <summary>The data as hex when it is not UTF-8 text.</summary>
    public string? DataHex => Json.GetString("data_hex");

    /// <summary>Parsed JSON data of JSON responses (IDENTIFY), with variable values as <c>&lt;variable&gt;</c>.</summary>
    public JsonElement? DataJson => Json.GetElement("data_json");

    /// <summary>Pointers (with <c>*</c>) of variable values in <see cref="DataJson"/> and their kind.</summary>
    public IReadOnlyList<ConformanceVariableField> VariableFields => Json.GetVariableFields("variable_fields");

    /// <summary>Error template quoting a message id, e.g. <c>E_FIN_FAILED FIN ${m2.id} failed ...</c>.</summary>
    public string? DataTemplate => Json.GetString("data_template");

    /// <summary>The first word of an error frame.</summary>
    public string? ErrorCode => Json.GetString("error_code");

    /// <summary>Message: delivery attempts.</summary>
    public int? Attempts => Json.GetInt("attempts");

    /// <summary>Message: the body as text.</summary>
    public string? BodyText => Json.GetString("body_text");

    /// <summary>Message: the body length in bytes.</summary>
    public int? BodyLength => Json.GetInt("body_length");

    /// <summary>Message: the scenario-wide reference (<c>m1</c>, <c>m2</c>, ...).</summary>
    public string? Ref => Json.GetString("ref");

    /// <summary>Message: an earlier message whose id this redelivery reuses.</summary>
    public string? IdSameAs => Json.GetString("id_same_as");

    /// <summary>Message: an earlier message whose timestamp this redelivery reuses.</summary>
    public string? TimestampSameAs => Json.GetString("timestamp_same_as");

    /// <summary>Message: whether the id must be 16 ASCII hex characters.</summary>
    public bool? IdIs16AsciiHex => Json.GetBool("id_is_16_ascii_hex");

    /// <summary>Message: whether the timestamp must be Unix nanoseconds near now.</summary>
    public bool? TimestampIsUnixNsNearNow => Json.GetBool("timestamp_is_unix_ns_near_now");

    /// <summary>Message: the recording run's id (16 characters), an example only.</summary>
    public string? ObservedId => Json.GetElement("observed")?.GetString("id");

    /// <summary>Message: the recording run's timestamp in ns, an example only.</summary>
    public long? ObservedTimestampNs => Json.GetElement("observed")?.GetLong("timestamp_ns");

    /// <summary>Whether this is a message frame.</summary>
    public bool IsMessage => FrameType == 2;

    /// <summary>
    /// The exact data bytes when the fixture fixes them (<see cref="DataText"/> or <see cref="DataHex"/>);
    /// null for messages and templated errors.
    /// </summary>
    public byte[]? ExactData =>
        DataText is { } text ? Encoding.UTF8.GetBytes(text)
        : DataHex is { } hex ? ConformanceHex.Parse(hex)
        : null;

    /// <summary>
    /// Resolves <see cref="DataTemplate"/> (<c>${mN.id}</c>) with the given ids (e.g.
    /// <see cref="ConformanceFixture.ObservedMessageIds"/>); null when the frame has no template.
    /// </summary>
    public byte[]? ResolveTemplate(IReadOnlyDictionary<string, byte[]> messageIds)
    {
        ArgumentNullException.ThrowIfNull(messageIds);
        if (DataTemplate is not { } template)
        {
            return null;
        }

        var result = new List<byte>();
        var pos = 0;
        while (pos < template.Length)
        {
            var start = template.IndexOf("${", pos, StringComparison.Ordinal);
            if (start < 0)
            {
                result.AddRange(Encoding.UTF8.GetBytes(template[pos..]));
                break;
            }

            result.AddRange(Encoding.UTF8.GetBytes(template[pos..start]));
            var end = template.IndexOf('}', start);
            var expression = template[(start + 2)..end];
            var dot = expression.IndexOf('.', StringComparison.Ordinal);
            var reference = expression[..dot];
            var field = expression[(dot + 1)..];
            if (field != "id")
            {
                throw new NotSupportedException($"Template field '{field}' is not known (only 'id').");
            }

            result.AddRange(messageIds[reference]);
            pos = end + 1;
        }

        return result.ToArray();
    }

    /// <inheritdoc />
    public override string ToString() => $"{Type} size {Size} {DataText ?? DataTemplate ?? BodyText}";
}
