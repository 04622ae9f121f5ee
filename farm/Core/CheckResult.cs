using System.Text.Json.Serialization;

namespace Farm;

// Part of every RunRecord (run.json, the store), so it lives with the record: the checks that
// produce results sit above Core, and Core knows nothing of them.

/// <summary>A vPCI check's verdict. XFail and NotApplicable always carry the evidence line that justified them.</summary>
internal enum CheckVerdict
{
    [JsonStringEnumMemberName("pass")] Pass,
    [JsonStringEnumMemberName("fail")] Fail,
    [JsonStringEnumMemberName("xfail")] XFail,
    [JsonStringEnumMemberName("n/a")] NotApplicable,
}

/// <summary>
/// One check's outcome: what it found, what was expected on this target, the evidence lines
/// and the source (file and version in Xen or Linux) of the log string it matched.
/// <see cref="Guest"/> names the domU a guest check judged (null: dom0's or the native target's view).
/// </summary>
internal sealed record CheckResult(
    string Id,
    string Group,
    CheckVerdict Verdict,
    CheckVerdict Expected,
    string Summary,
    IReadOnlyList<string> Evidence,
    string Source,
    string? Guest = null)
{
    public bool Unexpected => Verdict != Expected;

    /// <summary>Unique within a run: the check id, and the guest it judged.</summary>
    public string Key => Guest is null ? Id : $"{Id}@guest:{Guest}";
}

internal static class CheckVerdicts
{
    /// <summary>The wire name, as run.json, junit.xml and the store spell it.</summary>
    public static string ToWire(this CheckVerdict v) => v switch
    {
        CheckVerdict.Pass => "pass",
        CheckVerdict.Fail => "fail",
        CheckVerdict.XFail => "xfail",
        _ => "n/a",
    };
}
