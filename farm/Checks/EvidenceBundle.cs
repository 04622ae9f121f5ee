namespace Farm.Checks;

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
