using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Farm.Build;

/// <summary>
/// The one-line progress text <c>farm build</c> shows for a build-output line. A build prints blank
/// lines, lines of spaces, carriage-return progress bars and colour escapes; Spectre.Console's status
/// refuses an empty text (<c>InvalidOperationException: Task name cannot be empty</c>), so only a line
/// with something visible in it replaces the status, as plain text, at most <see cref="Width"/> characters.
/// </summary>
internal static partial class BuildProgress
{
    public const int Width = 100;

    /// <summary>The text to show for <paramref name="line"/>, or null to keep the current status.</summary>
    public static string? Of(string? line)
    {
        if (string.IsNullOrEmpty(line)) return null;
        // A carriage return redraws the line: what follows the last one is what a terminal would show.
        var shown = line[(line.TrimEnd('\r').LastIndexOf('\r') + 1)..];
        shown = AnsiEscape().Replace(shown, "");
        var text = new StringBuilder(Math.Min(shown.Length, Width));
        var elements = StringInfo.GetTextElementEnumerator(shown);
        while (elements.MoveNext() && text.Length < Width)
        {
            var element = (string)elements.Current;
            // Tabs and other control characters become a space; a lone surrogate is dropped.
            if (element.Length == 1 && (char.IsControl(element[0]) || char.IsSurrogate(element[0]))) element = char.IsSurrogate(element[0]) ? "" : " ";
            if (text.Length + element.Length > Width) break;
            text.Append(element);
        }
        var result = text.ToString().Trim();
        return result.Length == 0 || result.All(c => char.IsWhiteSpace(c) || char.GetUnicodeCategory(c) is UnicodeCategory.Format) ? null : result;
    }

    /// <summary>CSI (colour, cursor) and OSC escapes, as compilers and make print them.</summary>
    [GeneratedRegex(@"\x1B(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1B]*(?:\x07|\x1B\\)?|[@-Z\\-_])")]
    private static partial Regex AnsiEscape();
}
