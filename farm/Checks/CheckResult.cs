namespace Farm.Checks;

/// <summary>A vPCI check's verdict. XFail and NotApplicable always carry the evidence line that justified them.</summary>
internal enum CheckVerdict
{
    [System.Text.Json.Serialization.JsonStringEnumMemberName("pass")] Pass,
    [System.Text.Json.Serialization.JsonStringEnumMemberName("fail")] Fail,
    [System.Text.Json.Serialization.JsonStringEnumMemberName("xfail")] XFail,
    [System.Text.Json.Serialization.JsonStringEnumMemberName("n/a")] NotApplicable,
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

/// <summary>
/// What a run collected from a target: the console transcript and the output of each command
/// run over SSH, keyed by the command line exactly as run (e.g. "xl info", "lspci -vvv").
/// </summary>
internal sealed record EvidenceBundle(
    string Target,
    string ConsoleLog,
    IReadOnlyDictionary<string, string> Commands)
{
    public string? Output(string command) => Commands.TryGetValue(command, out var s) ? s : null;
}
