using System.Text.Json;
using Farm.Checks;

namespace Farm.Jobs.Stages;

/// <summary>
/// Judges the evidence (console transcript + command outputs) with the job's vPCI checks. Every
/// result is recorded (run.json, JUnit, Allure, the store, <c>evidence/checks.json</c>); a check
/// that fails where it was expected to pass makes the run <c>fail</c>, with the failing checks'
/// evidence lines. xfail and n/a are expected outcomes, not failures.
/// </summary>
internal sealed class ChecksStage(string target, IReadOnlyList<Check> checks, IReadOnlyList<string> expectedPci, TimeSpan timeout) : Stage("checks", timeout)
{
    /// <summary>
    /// Also after a later stage failed, as long as dom0 came up: a guest's refusal or crash is
    /// evidence the domU checks judge (xfail for a known platform gap), and the dom0 evidence
    /// already collected is still judged. The run's verdict stays the first failure's.
    /// </summary>
    public override bool AlwaysRun => true;

    public override bool ShouldRun(RunContext ctx) => ctx.Shell is not null;

    public override async Task RunAsync(RunContext ctx, CancellationToken ct)
    {
        // A resumed run judges the log of the boot its snapshot holds, then its own console.
        var console = string.Join('\n', ctx.FullConsole());
        var bundle = new EvidenceBundle(target, console, new Dictionary<string, string>(ctx.CommandOutputs));
        // A Xen Farm built says what it was built with; the checks then expect those features, not xfail them.
        var builtWith = ctx.Facts.TryGetValue("manifest:xen_build_pci", out var pci) ? pci.Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
        var evaluated = new Target(bundle, expectedPci, builtWith);
        var results = CheckRunner.Run(evaluated, checks);
        foreach (var (name, value) in PerfMetrics.From(evaluated)) ctx.Metrics[name] = value;
        ctx.Checks.AddRange(results);
        foreach (var v in Enum.GetValues<CheckVerdict>())
            ctx.Metrics[$"checks.{v.ToString().ToLowerInvariant()}"] = results.Count(r => r.Verdict == v);
        Directory.CreateDirectory(ctx.EvidenceDirectory);
        await File.WriteAllTextAsync(Path.Combine(ctx.EvidenceDirectory, "checks.json"),
            JsonSerializer.Serialize(results, RunJsonContext.Default.IReadOnlyListCheckResult), ct).ConfigureAwait(false);

        var failed = results.Where(r => r.Verdict == CheckVerdict.Fail && r.Unexpected).ToList();
        if (failed.Count > 0)
            throw new CheckFailedException(
                $"{failed.Count} of {results.Count} checks failed: {string.Join(", ", failed.Select(f => f.Id))}",
                failed.SelectMany(f => (IEnumerable<string>)[$"{f.Id}: {f.Summary}", .. f.Evidence.Take(5)]).ToList());
    }
}
