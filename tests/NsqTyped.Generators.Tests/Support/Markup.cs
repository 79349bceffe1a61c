using Microsoft.CodeAnalysis.Text;

namespace NsqTyped.Generators.Tests.Support;

/// <summary>Source with expected diagnostic spans marked <c>[|like this|]</c>.</summary>
internal static class Markup
{
    public static (string Source, IReadOnlyList<TextSpan> Spans) Parse(string markup)
    {
        var spans = new List<TextSpan>();
        var source = new System.Text.StringBuilder();
        var i = 0;
        while (i < markup.Length)
        {
            var open = markup.IndexOf("[|", i, StringComparison.Ordinal);
            if (open < 0)
            {
                source.Append(markup, i, markup.Length - i);
                break;
            }

            var close = markup.IndexOf("|]", open, StringComparison.Ordinal);
            source.Append(markup, i, open - i);
            var start = source.Length;
            source.Append(markup, open + 2, close - open - 2);
            spans.Add(TextSpan.FromBounds(start, source.Length));
            i = close + 2;
        }

        return (source.ToString(), spans);
    }
}
