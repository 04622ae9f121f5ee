namespace Farm;

/// <summary>How a caller's or a tool's text is quoted back in a message: one line, short, no control characters.</summary>
internal static class MessageText
{
    /// <summary>The first line of a message, at most 300 characters: what a job's note may quote.</summary>
    public static string OneLine(string message)
    {
        var line = message.Split('\n', 2)[0].TrimEnd('\r');
        return line.Length <= 300 ? line : line[..300] + "…";
    }

    /// <summary>A caller's text quoted back in an error: one line, short, control characters shown as '?'.</summary>
    public static string Clip(string? s) => s is null ? "" : OneLine(new string(s.Select(c => char.IsControl(c) ? '?' : c).ToArray()));
}
