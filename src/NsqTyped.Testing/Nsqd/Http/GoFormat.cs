using System.Globalization;
using System.Text;

namespace NsqTyped.Testing.Nsqd.Http;

/// <summary>The few pieces of Go's <c>fmt</c>/<c>time</c> formatting nsqd's text output relies on.</summary>
internal static class GoFormat
{
    /// <summary>Go's <c>time.Duration.String()</c> for a duration in nanoseconds (<c>266.823293ms</c>, <c>1m0.5s</c>, <c>0s</c>).</summary>
    public static string Duration(long nanoseconds)
    {
        if (nanoseconds == 0)
        {
            return "0s";
        }

        var negative = nanoseconds < 0;
        var u = negative ? (ulong)(-(nanoseconds + 1)) + 1 : (ulong)nanoseconds;
        var sb = new StringBuilder(24);
        if (u < 1_000_000_000UL)
        {
            string unit;
            int precision;
            if (u < 1_000UL)
            {
                unit = "ns";
                precision = 0;
            }
            else if (u < 1_000_000UL)
            {
                unit = "\u00b5s";
                precision = 3;
            }
            else
            {
                unit = "ms";
                precision = 6;
            }

            var (integer, fraction) = SplitFraction(u, precision);
            sb.Append(integer.ToString(CultureInfo.InvariantCulture)).Append(fraction).Append(unit);
        }
        else
        {
            var (seconds, fraction) = SplitFraction(u, 9);
            var minutes = seconds / 60;
            seconds %= 60;
            if (minutes > 0)
            {
                var hours = minutes / 60;
                minutes %= 60;
                if (hours > 0)
                {
                    sb.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
                }

                sb.Append(minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
            }

            sb.Append(seconds.ToString(CultureInfo.InvariantCulture)).Append(fraction).Append('s');
        }

        return negative ? "-" + sb : sb.ToString();
    }

    /// <summary>Go's <c>%-Nd</c>: the number left-aligned in a field of <paramref name="width"/>.</summary>
    public static string PadNumber(long value, int width) => value.ToString(CultureInfo.InvariantCulture).PadRight(width);

    /// <summary>Go's <c>%-Ns</c>: left-aligned in a field of <paramref name="width"/> runes.</summary>
    public static string Pad(string value, int width)
    {
        var runes = 0;
        foreach (var _ in value.EnumerateRunes())
        {
            runes++;
        }

        return runes >= width ? value : value + new string(' ', width - runes);
    }

    /// <summary>Go's <c>time.Time.Format(time.RFC3339)</c> in the local zone, as nsqd prints <c>start_time</c>.</summary>
    public static string Rfc3339(DateTimeOffset time)
    {
        var local = time.ToLocalTime();
        var offset = local.Offset;
        var zone = offset == TimeSpan.Zero
            ? "Z"
            : (offset < TimeSpan.Zero ? "-" : "+") + offset.Duration().ToString(@"hh\:mm", CultureInfo.InvariantCulture);
        return local.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + zone;
    }

    private static (ulong Integer, string Fraction) SplitFraction(ulong value, int precision)
    {
        if (precision == 0)
        {
            return (value, string.Empty);
        }

        ulong scale = 1;
        for (var i = 0; i < precision; i++)
        {
            scale *= 10;
        }

        var fraction = value % scale;
        if (fraction == 0)
        {
            return (value / scale, string.Empty);
        }

        var digits = fraction.ToString(CultureInfo.InvariantCulture).PadLeft(precision, '0').TrimEnd('0');
        return (value / scale, "." + digits);
    }
}
