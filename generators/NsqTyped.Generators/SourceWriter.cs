using System;
using System.Text;

namespace NsqTyped.Generators;

/// <summary>A StringBuilder that indents lines and opens/closes blocks; output uses \n line ends on every OS.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _builder = new();
    private int _indent;

    public void Line(string text = "")
    {
        if (text.Length > 0)
        {
            _builder.Append(' ', _indent * 4);
            _builder.Append(text);
        }

        _builder.Append('\n');
    }

    /// <summary>A blank line between the members of a list: nothing before the first, one before each later one.</summary>
    public void Separate(ref bool first)
    {
        if (!first)
        {
            Line();
        }

        first = false;
    }

    public void Open(string header)
    {
        Line(header);
        Line("{");
        _indent++;
    }

    public void Close(string suffix = "")
    {
        if (_indent == 0)
        {
            throw new InvalidOperationException("Close without Open.");
        }

        _indent--;
        Line("}" + suffix);
    }

    public override string ToString() => _builder.ToString();
}
