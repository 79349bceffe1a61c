using System.Text;

namespace NsqTyped.Testing.Nsqd.Tcp;

/// <summary>
/// nsqd's ClientErr/FatalClientErr: the error frame text (code first) and whether the connection is
/// closed after sending it. Raw client bytes quoted in the text are kept byte for byte (Latin-1).
/// </summary>
internal sealed class NsqdClientException : Exception
{
    public NsqdClientException(bool fatal, string text)
        : base(text)
    {
        IsFatal = fatal;
    }

    public bool IsFatal { get; }

    public static NsqdClientException Fatal(string text) => new(true, text);

    public static NsqdClientException NonFatal(string text) => new(false, text);

    /// <summary>Client bytes as a string that converts back to the same bytes with Latin-1.</summary>
    public static string Raw(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    /// <summary>Go's <c>%q</c> (strconv.Quote) of client bytes, Latin-1 mapped like <see cref="Raw"/>.</summary>
    public static string Quote(ReadOnlySpan<byte> bytes)
    {
        var builder = new StringBuilder(bytes.Length + 2).Append('"');
        var i = 0;
        while (i < bytes.Length)
        {
            var b = bytes[i];
            if (b >= 0x80)
            {
                if (System.Text.Rune.DecodeFromUtf8(bytes[i..], out _, out var consumed) == System.Buffers.OperationStatus.Done)
                {
                    builder.Append(Raw(bytes.Slice(i, consumed)));
                    i += consumed;
                    continue;
                }

                builder.Append("\\x").Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                i++;
                continue;
            }

            switch (b)
            {
                case (byte)'"': builder.Append("\\\""); break;
                case (byte)'\\': builder.Append("\\\\"); break;
                case (byte)'\a': builder.Append("\\a"); break;
                case (byte)'\b': builder.Append("\\b"); break;
                case (byte)'\f': builder.Append("\\f"); break;
                case (byte)'\n': builder.Append("\\n"); break;
                case (byte)'\r': builder.Append("\\r"); break;
                case (byte)'\t': builder.Append("\\t"); break;
                case (byte)'\v': builder.Append("\\v"); break;
                default:
                    if (b < 0x20 || b == 0x7f)
                    {
                        builder.Append("\\x").Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        builder.Append((char)b);
                    }

                    break;
            }

            i++;
        }

        return builder.Append('"').ToString();
    }
}
