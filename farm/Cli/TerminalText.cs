using System.Text;
using Spectre.Console;

namespace Farm.Cli;

/// <summary>
/// Text from others (lease notes, job notes, console lines, messages quoting them) made safe for a
/// terminal: an ESC sequence in a note could move the cursor, rewrite earlier lines or set the
/// window title, so every control character except the newline is shown as <c>\x1b</c>, <c>\r</c>
/// and so on, and Spectre markup is escaped.
/// </summary>
internal static class TerminalText
{
    public static string Plain(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var b = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c == '\n') b.Append(c);
            else if (c == '\r') b.Append("\\r");
            else if (c == '\t') b.Append("\\t");
            else if (char.IsControl(c) || c is '\u2028' or '\u2029' or '\u202e' or '\u202d') b.Append($"\\x{(int)c:x2}");
            else b.Append(c);
        }
        return b.ToString();
    }

    /// <summary><see cref="Plain"/>, then escaped for Spectre markup.</summary>
    public static string Markup(string? text) => Spectre.Console.Markup.Escape(Plain(text));
}
