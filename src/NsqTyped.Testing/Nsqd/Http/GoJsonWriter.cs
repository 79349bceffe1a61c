using System.Globalization;
using System.Text;

namespace NsqTyped.Testing.Nsqd.Http;

/// <summary>
/// Writes compact JSON byte-for-byte as Go's <c>encoding/json</c> marshals nsqd's structs: keys in
/// declaration order, no whitespace, <c>&lt; &gt; &amp;</c> escaped as <c>\u003c</c>-style sequences,
/// <c>\b \f \n \r \t</c> short escapes, other control characters as lower-case <c>\u00xx</c>,
/// U+2028/U+2029 escaped and lone surrogates replaced by <c>\ufffd</c>. Hand-written so the output is
/// exact and the server stays trimming/AOT safe (no reflection).
/// </summary>
internal sealed class GoJsonWriter
{
    private readonly StringBuilder _sb = new(256);
    private readonly Stack<bool> _first = new();
    private bool _afterName;

    /// <summary>The UTF-8 bytes written so far.</summary>
    public byte[] ToUtf8() => Encoding.UTF8.GetBytes(_sb.ToString());

    /// <inheritdoc />
    public override string ToString() => _sb.ToString();

    public GoJsonWriter StartObject()
    {
        Separator();
        _sb.Append('{');
        _first.Push(true);
        return this;
    }

    public GoJsonWriter EndObject()
    {
        _first.Pop();
        _sb.Append('}');
        return this;
    }

    public GoJsonWriter StartArray()
    {
        Separator();
        _sb.Append('[');
        _first.Push(true);
        return this;
    }

    public GoJsonWriter EndArray()
    {
        _first.Pop();
        _sb.Append(']');
        return this;
    }

    public GoJsonWriter Name(string name)
    {
        Separator();
        AppendQuoted(_sb, name);
        _sb.Append(':');
        _afterName = true;
        return this;
    }

    public GoJsonWriter String(string value)
    {
        Separator();
        AppendQuoted(_sb, value);
        return this;
    }

    public GoJsonWriter Number(long value)
    {
        Separator();
        _sb.Append(value.ToString(CultureInfo.InvariantCulture));
        return this;
    }

    public GoJsonWriter Number(ulong value)
    {
        Separator();
        _sb.Append(value.ToString(CultureInfo.InvariantCulture));
        return this;
    }

    public GoJsonWriter Bool(bool value)
    {
        Separator();
        _sb.Append(value ? "true" : "false");
        return this;
    }

    public GoJsonWriter Null()
    {
        Separator();
        _sb.Append("null");
        return this;
    }

    public GoJsonWriter Property(string name, string value) => Name(name).String(value);

    public GoJsonWriter Property(string name, long value) => Name(name).Number(value);

    public GoJsonWriter Property(string name, bool value) => Name(name).Bool(value);

    /// <summary>A Go <c>[]string</c>: <c>null</c> when nil, otherwise an array.</summary>
    public GoJsonWriter StringArray(IEnumerable<string>? values)
    {
        if (values is null)
        {
            return Null();
        }

        StartArray();
        foreach (var value in values)
        {
            String(value);
        }

        return EndArray();
    }

    private void Separator()
    {
        if (_afterName)
        {
            _afterName = false;
            return;
        }

        if (_first.Count == 0)
        {
            return;
        }

        if (_first.Peek())
        {
            _first.Pop();
            _first.Push(false);
        }
        else
        {
            _sb.Append(',');
        }
    }

    /// <summary>Appends <paramref name="value"/> as a Go-encoded JSON string literal.</summary>
    public static void AppendQuoted(StringBuilder sb, string value)
    {
        const string hex = "0123456789abcdef";
        sb.Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            switch (c)
            {
                case '"':
                    sb.Append("\\\"");
                    break;
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\b':
                    sb.Append("\\b");
                    break;
                case '\f':
                    sb.Append("\\f");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                case '<' or '>' or '&' or '\u2028' or '\u2029':
                case < ' ':
                    sb.Append("\\u").Append(hex[(c >> 12) & 0xF]).Append(hex[(c >> 8) & 0xF]).Append(hex[(c >> 4) & 0xF]).Append(hex[c & 0xF]);
                    break;
                default:
                    if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                    {
                        sb.Append(c).Append(value[++i]);
                    }
                    else if (char.IsSurrogate(c))
                    {
                        sb.Append("\\ufffd");
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
    }
}
