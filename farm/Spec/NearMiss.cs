namespace Farm.Spec;

/// <summary>
/// "did you mean ...?" for misspelt keys and names. Two edits catch the usual slips
/// (<c>timeout</c>, <c>dom0_prompt</c>, <c>memory_mb</c>) without suggesting unrelated words.
/// </summary>
internal static class NearMiss
{
    const int MaxEdits = 2;

    public static string? Suggest(string typed, IEnumerable<string> known) =>
        known.Select(k => (k, d: Distance(typed, k)))
             .Where(x => x.d <= MaxEdits && x.d < Math.Max(typed.Length, x.k.Length))
             .OrderBy(x => x.d).ThenBy(x => x.k, StringComparer.Ordinal)
             .Select(x => x.k)
             .FirstOrDefault();

    /// <summary><c> (did you mean "x"?)</c>, or empty when nothing is close.</summary>
    public static string Hint(string typed, IEnumerable<string> known) =>
        Suggest(typed, known) is { } s ? $" (did you mean \"{s}\"?)" : "";

    /// <summary>Levenshtein distance; keys are short, so the two-row table is plenty.</summary>
    public static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) prev[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
