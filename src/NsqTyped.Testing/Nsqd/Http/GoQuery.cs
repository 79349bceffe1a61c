using System.Text;

namespace NsqTyped.Testing.Nsqd.Http;

/// <summary>
/// A query string parsed the way Go's <c>url.ParseQuery</c> does it, which is what nsqd's handlers see:
/// pairs split on <c>&amp;</c>, a pair containing <c>;</c> is an error (and skipped), <c>+</c> is a space,
/// a bad <c>%</c> escape is an error (and the pair is skipped), repeated keys keep every value in order.
/// Parsing never stops at the first error; <see cref="HasError"/> reports that one happened, as Go returns
/// the values together with the first error.
/// </summary>
internal sealed class GoQuery
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    private GoQuery()
    {
    }

    /// <summary>Whether Go's parser would have returned an error alongside the values.</summary>
    public bool HasError { get; private set; }

    /// <summary>Parses a raw query (without the leading <c>?</c>).</summary>
    public static GoQuery Parse(string? rawQuery)
    {
        var query = new GoQuery();
        var rest = rawQuery.AsSpan();
        while (!rest.IsEmpty)
        {
            ReadOnlySpan<char> pair;
            var amp = rest.IndexOf('&');
            if (amp < 0)
            {
                pair = rest;
                rest = default;
            }
            else
            {
                pair = rest[..amp];
                rest = rest[(amp + 1)..];
            }

            if (pair.Contains(';'))
            {
                query.HasError = true;
                continue;
            }

            if (pair.IsEmpty)
            {
                continue;
            }

            var eq = pair.IndexOf('=');
            var rawKey = eq < 0 ? pair : pair[..eq];
            var rawValue = eq < 0 ? default : pair[(eq + 1)..];
            if (!TryUnescape(rawKey, plusIsSpace: true, out var key) || !TryUnescape(rawValue, plusIsSpace: true, out var value))
            {
                query.HasError = true;
                continue;
            }

            if (!query._values.TryGetValue(key, out var list))
            {
                list = [];
                query._values.Add(key, list);
            }

            list.Add(value);
        }

        return query;
    }

    /// <summary>Whether the key was present at all (even with an empty value).</summary>
    public bool Has(string key) => _values.ContainsKey(key);

    /// <summary>The first value of <paramref name="key"/>, like nsqd's <c>ReqParams.Get</c>; false when absent.</summary>
    public bool TryGet(string key, out string value)
    {
        if (_values.TryGetValue(key, out var list))
        {
            value = list[0];
            return true;
        }

        value = string.Empty;
        return false;
    }

    /// <summary>The first value of <paramref name="key"/>, or the empty string when absent.</summary>
    public string Get(string key) => TryGet(key, out var value) ? value : string.Empty;

    /// <summary>
    /// Go's <c>url.unescape</c>: <c>%XX</c> must be two hex digits, otherwise the whole component is invalid.
    /// Decoded bytes are taken as UTF-8 (Go strings are bytes; invalid sequences cannot form valid names anyway).
    /// </summary>
    internal static bool TryUnescape(ReadOnlySpan<char> s, bool plusIsSpace, out string result)
    {
        if (!s.Contains('%') && !(plusIsSpace && s.Contains('+')))
        {
            result = s.ToString();
            return true;
        }

        var bytes = new List<byte>(s.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '%')
            {
                if (i + 2 >= s.Length || !char.IsAsciiHexDigit(s[i + 1]) || !char.IsAsciiHexDigit(s[i + 2]))
                {
                    result = string.Empty;
                    return false;
                }

                bytes.Add((byte)((HexValue(s[i + 1]) << 4) | HexValue(s[i + 2])));
                i += 2;
            }
            else if (c == '+' && plusIsSpace)
            {
                bytes.Add((byte)' ');
            }
            else if (c < 0x80)
            {
                bytes.Add((byte)c);
            }
            else
            {
                // A lone surrogate becomes U+FFFD, as it would in any UTF-8 encoding of the string.
                Rune.DecodeFromUtf16(s[i..], out var rune, out var consumed);
                var written = rune.EncodeToUtf8(utf8);
                for (var j = 0; j < written; j++)
                {
                    bytes.Add(utf8[j]);
                }

                i += consumed - 1;
            }
        }

        result = Encoding.UTF8.GetString(bytes.ToArray());
        return true;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        _ => c - 'A' + 10,
    };
}
