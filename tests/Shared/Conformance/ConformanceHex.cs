using System.Text.Json;

namespace NsqTyped.Conformance;

/// <summary>Hex and <c>xx</c>-pattern helpers for the fixtures' byte strings.</summary>
public static class ConformanceHex
{
    /// <summary>Parses lower- or upper-case hex without separators (an empty string is no bytes).</summary>
    public static byte[] Parse(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        return Convert.FromHexString(hex);
    }

    /// <summary>Formats bytes as lower-case hex, the fixtures' notation.</summary>
    public static string Format(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    /// <summary>The number of bytes a <c>..._pattern</c> describes.</summary>
    public static int PatternLength(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return pattern.Length / 2;
    }

    /// <summary>
    /// Whether <paramref name="bytes"/> matches a pattern: same length, equal at every position that
    /// is not <c>xx</c>.
    /// </summary>
    public static bool Matches(ReadOnlySpan<byte> bytes, string pattern) => FirstMismatch(bytes, pattern) < 0;

    /// <summary>
    /// Index of the first byte that breaks <paramref name="pattern"/> (the shorter length when the
    /// lengths differ), or -1 when it matches.
    /// </summary>
    public static int FirstMismatch(ReadOnlySpan<byte> bytes, string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var length = pattern.Length / 2;
        for (var i = 0; i < Math.Min(length, bytes.Length); i++)
        {
            var pair = pattern.AsSpan(i * 2, 2);
            if (pair is "xx")
            {
                continue;
            }

            if (Convert.FromHexString(pair)[0] != bytes[i])
            {
                return i;
            }
        }

        return length == bytes.Length ? -1 : Math.Min(length, bytes.Length);
    }

    /// <summary>The positions of <c>xx</c> bytes in a pattern.</summary>
    public static bool[] VariableMask(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var mask = new bool[pattern.Length / 2];
        for (var i = 0; i < mask.Length; i++)
        {
            mask[i] = pattern.AsSpan(i * 2, 2) is "xx";
        }

        return mask;
    }
}

/// <summary>Null-tolerant accessors for fixture JSON (absent or JSON null members read as null).</summary>
public static class ConformanceJson
{
    /// <summary>A member, or null when absent or JSON null.</summary>
    public static JsonElement? GetElement(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : null;

    /// <summary>A string member, or null.</summary>
    public static string? GetString(this JsonElement element, string name) =>
        element.GetElement(name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    /// <summary>An int member, or null.</summary>
    public static int? GetInt(this JsonElement element, string name) =>
        element.GetElement(name) is { ValueKind: JsonValueKind.Number } value && value.TryGetInt32(out var number) ? number : null;

    /// <summary>A long member, or null.</summary>
    public static long? GetLong(this JsonElement element, string name) =>
        element.GetElement(name) is { ValueKind: JsonValueKind.Number } value && value.TryGetInt64(out var number) ? number : null;

    /// <summary>A bool member, or null.</summary>
    public static bool? GetBool(this JsonElement element, string name) =>
        element.GetElement(name) is { ValueKind: JsonValueKind.True or JsonValueKind.False } value ? value.GetBoolean() : null;

    /// <summary>A string array member (empty when absent).</summary>
    public static IReadOnlyList<string> GetStringArray(this JsonElement element, string name) =>
        element.GetElement(name) is { ValueKind: JsonValueKind.Array } array
            ? array.EnumerateArray().Select(e => e.GetString() ?? string.Empty).ToArray()
            : [];

    /// <summary>A <c>[["Name","value"], ...]</c> header list (empty when absent).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> GetHeaderList(this JsonElement element, string name) =>
        element.GetElement(name) is { ValueKind: JsonValueKind.Array } array
            ? array.EnumerateArray().Select(pair => new KeyValuePair<string, string>(pair[0].GetString() ?? string.Empty, pair[1].GetString() ?? string.Empty)).ToArray()
            : [];

    /// <summary>A <c>variable_fields</c> list of <c>{"path", "kind"}</c> objects (empty when absent).</summary>
    public static IReadOnlyList<ConformanceVariableField> GetVariableFields(this JsonElement element, string name) =>
        element.GetElement(name) is { ValueKind: JsonValueKind.Array } array
            ? array.EnumerateArray()
                .Select(field => field.ValueKind == JsonValueKind.String
                    ? new ConformanceVariableField(field.GetString()!, null)
                    : new ConformanceVariableField(field.GetString("path") ?? string.Empty, field.GetString("kind")))
                .ToArray()
            : [];
}
