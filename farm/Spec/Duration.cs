using System.Globalization;
using System.Text.RegularExpressions;

namespace Farm.Spec;

/// <summary>
/// Timeouts as people write them in job files: <c>90s</c>, <c>5m</c>, <c>1h30m</c>, <c>500ms</c>,
/// or plain seconds <c>90</c>. Units go largest first and each at most once, so <c>1h30m</c>
/// reads one way only; anything else (<c>5 minutes</c>, <c>PT5M</c>, <c>00:05:00</c>) is refused
/// rather than guessed.
/// </summary>
internal static partial class Duration
{
    public const string Hint = "use 90s, 5m, 1h30m";

    [GeneratedRegex(@"^(?:(?<h>\d+)h)?(?:(?<m>\d+)m(?!s))?(?:(?<s>\d+)s)?(?:(?<ms>\d+)ms)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Units();

    [GeneratedRegex(@"^\d+$", RegexOptions.CultureInvariant)]
    private static partial Regex PlainSeconds();

    /// <summary>
    /// Longest duration anything may be given (a timeout, a lease): beyond it a timer cannot be armed
    /// (a CancellationTokenSource takes at most 49.7 days) and a lease end would overflow the clock.
    /// </summary>
    public static readonly TimeSpan Max = TimeSpan.FromDays(30);

    public const string MaxText = "720h (30 days)";

    /// <summary>Parses a duration; zero and negative values are rejected because a zero timeout can only fail, and so is anything above <see cref="Max"/>.</summary>
    public static bool TryParse(string? text, out TimeSpan value) => TryParseSyntax(text, out value) && value > TimeSpan.Zero && value <= Max;

    /// <summary>Spelling only, so the caller can tell "not a duration" from "zero".</summary>
    internal static bool TryParseSyntax(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrEmpty(text) || text.Length > 64) return false;
        try
        {
            if (PlainSeconds().IsMatch(text))
                value = TimeSpan.FromSeconds(long.Parse(text, CultureInfo.InvariantCulture));
            else if (Units().Match(text) is { Success: true } m)
                value = TimeSpan.FromHours(Part(m, "h")) + TimeSpan.FromMinutes(Part(m, "m"))
                      + TimeSpan.FromSeconds(Part(m, "s")) + TimeSpan.FromMilliseconds(Part(m, "ms"));
            else
                return false;
        }
        catch (Exception e) when (e is OverflowException or ArgumentOutOfRangeException)
        {
            return false;
        }
        return true;
    }

    public static TimeSpan Parse(string text) =>
        TryParse(text, out var v) ? v : throw new FormatException($"\"{text}\" is not a duration ({Hint})");

    /// <summary>The shortest spelling that parses back to the same value: 90s → "1m30s", 0.5s → "500ms".</summary>
    public static string Format(TimeSpan value)
    {
        if (value <= TimeSpan.Zero) return "0s";
        var parts = "";
        if ((long)value.TotalHours > 0) parts += $"{(long)value.TotalHours}h";
        if (value.Minutes > 0) parts += $"{value.Minutes}m";
        if (value.Seconds > 0) parts += $"{value.Seconds}s";
        if (value.Milliseconds > 0) parts += $"{value.Milliseconds}ms";
        return parts.Length == 0 ? "0s" : parts;
    }

    static long Part(Match m, string group) =>
        m.Groups[group].Success ? long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture) : 0;
}
