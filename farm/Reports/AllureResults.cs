using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Farm.Checks;
using Farm.Jobs;

namespace Farm.Reports;

/// <summary>
/// <c>allure-results/</c> in Allure's documented result format (Allure.NUnit is not available, so
/// Farm writes the files itself): one <c>*-result.json</c> for the run — its stages as steps, the
/// console transcript and every evidence file as attachments — and one per check, plus
/// <c>environment.properties</c>, <c>executor.json</c> and <c>categories.json</c>. Render them with
/// <c>farm report</c> (the npm <c>allure</c> CLI).
/// </summary>
internal sealed class AllureResults : IRunSink
{
    public const string DirectoryName = "allure-results";

    public Task StartedAsync(RunRecord pending, CancellationToken ct) => Task.CompletedTask;

    public Task FinishedAsync(RunRecord final, CancellationToken ct) =>
        final.RunDirectory is { } dir ? WriteAsync(final, Path.Combine(dir, DirectoryName), ct) : Task.CompletedTask;

    public static async Task WriteAsync(RunRecord run, string resultsDir, CancellationToken ct)
    {
        Directory.CreateDirectory(resultsDir);
        long start = run.Start.ToUnixTimeMilliseconds();
        long stop = start + (long)run.Duration.TotalMilliseconds;
        var boardDir = run.RunDirectory is null ? null : Path.Combine(run.RunDirectory, run.Board);

        // The run itself: stages are its steps, the transcript and evidence its attachments.
        var runUuid = Guid.NewGuid().ToString();
        var attachments = new JsonArray();
        if (boardDir is not null)
        {
            await AttachAsync(attachments, resultsDir, runUuid, Path.Combine(boardDir, "console.log"), "console.log", ct).ConfigureAwait(false);
            var evidence = Path.Combine(boardDir, "evidence");
            if (Directory.Exists(evidence))
                foreach (var f in Directory.GetFiles(evidence).Order(StringComparer.Ordinal))
                    await AttachAsync(attachments, resultsDir, runUuid, f, "evidence/" + Path.GetFileName(f), ct).ConfigureAwait(false);
        }
        var steps = new JsonArray();
        foreach (var s in run.Stages)
        {
            long st = s.Start.ToUnixTimeMilliseconds();
            steps.Add((JsonNode)new JsonObject
            {
                ["name"] = $"{s.Name} (timeout {s.Timeout.TotalSeconds:0.#}s)",
                ["status"] = Status(s.Status),
                ["stage"] = "finished",
                ["start"] = st,
                ["stop"] = st + (long)s.Duration.TotalMilliseconds,
                ["statusDetails"] = Details(s.Message, s.FailureClass),
            });
        }
        var runName = $"{run.Job} on {run.Board}";
        await WriteResultAsync(resultsDir, runUuid, new JsonObject
        {
            ["name"] = runName,
            ["fullName"] = $"farm.{run.Job}.{run.Board}.boot",
            ["status"] = Status(run.Verdict),
            ["statusDetails"] = Details(run.Message, run.FailureClass),
            ["description"] = Description(run),
            ["steps"] = steps,
            ["attachments"] = attachments,
        }, run, "boot", start, stop, ct).ConfigureAwait(false);

        foreach (var c in run.Checks)
        {
            var uuid = Guid.NewGuid().ToString();
            var evidence = new JsonArray();
            var text = string.Join('\n', [c.Summary, $"verdict: {c.Verdict.ToWire()} (expected {c.Expected.ToWire()})", $"source: {c.Source}", "", .. c.Evidence]);
            var name = $"{uuid}-attachment.txt";
            await File.WriteAllTextAsync(Path.Combine(resultsDir, name), text, ct).ConfigureAwait(false);
            evidence.Add((JsonNode)new JsonObject { ["name"] = "evidence", ["source"] = name, ["type"] = "text/plain" });
            await WriteResultAsync(resultsDir, uuid, new JsonObject
            {
                // A guest's checks are their own tests (history per guest), grouped under "guest <name>".
                ["name"] = c.Guest is null ? $"{c.Id}: {c.Summary}" : $"[guest {c.Guest}] {c.Id}: {c.Summary}",
                ["fullName"] = c.Guest is null ? $"farm.{run.Job}.{run.Board}.{c.Group}.{c.Id}" : $"farm.{run.Job}.{run.Board}.guest.{c.Guest}.{c.Group}.{c.Id}",
                ["status"] = Status(c.Verdict),
                ["statusDetails"] = Details(c.Verdict is CheckVerdict.Pass ? null : $"{c.Verdict.ToWire()} (expected {c.Expected.ToWire()}): {c.Summary}",
                    string.Join('\n', c.Evidence), known: c.Verdict == c.Expected && c.Verdict != CheckVerdict.Pass),
                ["description"] = $"Source: {c.Source}",
                ["attachments"] = evidence,
            }, run, c.Group, start, stop, ct, c.Guest).ConfigureAwait(false);
        }

        var env = new StringBuilder();
        env.AppendLine($"run.id={run.RunId}").AppendLine($"board={run.Board}").AppendLine($"job={run.Job}");
        if (run.Provenance.XenVersion is { } xv) env.AppendLine($"xen.version={xv}");
        if (run.Provenance.LinuxVersion is { } lv) env.AppendLine($"linux.version={lv}");
        if (run.Provenance.QemuVersion is { } qv) env.AppendLine($"qemu.version={qv}");
        await File.WriteAllTextAsync(Path.Combine(resultsDir, "environment.properties"), env.ToString(), ct).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(resultsDir, "executor.json"), new JsonObject
        {
            ["name"] = "Farm",
            ["type"] = "farm",
            ["buildName"] = run.RunId,
            ["reportName"] = $"Farm: {runName}",
        }.ToJsonString(), ct).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(resultsDir, "categories.json"), Categories, ct).ConfigureAwait(false);
    }

    static async Task WriteResultAsync(string dir, string uuid, JsonObject result, RunRecord run, string group, long start, long stop, CancellationToken ct, string? guest = null)
    {
        var fullName = (string)result["fullName"]!;
        result["uuid"] = uuid;
        result["historyId"] = Md5(fullName);
        result["testCaseId"] = Md5(fullName);
        result["stage"] = "finished";
        result["start"] = start;
        result["stop"] = stop;
        result["labels"] = new JsonArray(
            Label("parentSuite", "farm"), Label("suite", run.Job), Label("subSuite", guest is null ? run.Board : $"{run.Board} · guest {guest}"),
            Label("feature", group), Label("host", Environment.MachineName), Label("framework", "farm"), Label("language", "c#"));
        if (guest is not null) result["labels"]!.AsArray().Add((JsonNode)Label("story", $"guest {guest}"));
        result["parameters"] = guest is null ? new JsonArray(new JsonObject { ["name"] = "board", ["value"] = run.Board })
            : new JsonArray(new JsonObject { ["name"] = "board", ["value"] = run.Board }, new JsonObject { ["name"] = "guest", ["value"] = guest });
        result["links"] = new JsonArray();
        await File.WriteAllTextAsync(Path.Combine(dir, $"{uuid}-result.json"), result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
    }

    static async Task AttachAsync(JsonArray list, string dir, string uuid, string file, string name, CancellationToken ct)
    {
        if (!File.Exists(file)) return;
        var ext = Path.GetExtension(file) is { Length: > 0 } e ? e : ".txt";
        var source = $"{Guid.NewGuid()}-attachment{ext}";
        await using (var from = File.OpenRead(file))
        await using (var to = File.Create(Path.Combine(dir, source)))
            await from.CopyToAsync(to, ct).ConfigureAwait(false);
        list.Add((JsonNode)new JsonObject { ["name"] = name, ["source"] = source, ["type"] = ext == ".json" ? "application/json" : "text/plain" });
    }

    static string Description(RunRecord run)
    {
        var b = new StringBuilder($"Run {run.RunId}: {run.Verdict.ToWire()}");
        if (run.Provenance.XenVersion is { } x) b.Append($", Xen {x}");
        if (run.Provenance.LinuxVersion is { } l) b.Append($", Linux {l}");
        if (run.Provenance.QemuVersion is { } q) b.Append($", QEMU {q}");
        return b.ToString();
    }

    static JsonObject Label(string name, string value) => new() { ["name"] = name, ["value"] = value };

    static JsonObject Details(string? message, string? trace, bool known = false)
    {
        var o = new JsonObject { ["known"] = known, ["muted"] = false, ["flaky"] = false };
        if (message is not null) o["message"] = message;
        if (trace is not null) o["trace"] = trace;
        return o;
    }

    internal static string Status(Verdict v) => v switch
    {
        Verdict.Pass => "passed",
        Verdict.Fail => "failed",
        _ => "broken",
    };

    static string Status(StageStatus s) => s switch
    {
        StageStatus.Passed => "passed",
        StageStatus.Failed => "failed",
        StageStatus.Skipped => "skipped",
        _ => "broken",
    };

    static string Status(CheckVerdict v) => v switch
    {
        CheckVerdict.Pass => "passed",
        CheckVerdict.Fail => "failed",
        _ => "skipped",
    };

    static string Md5(string s) => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(s)));

    // Allure's categories: failures of the system under test vs. of the lab, as in run.json.
    const string Categories = """
        [
          {"name": "Lab / infrastructure (incomplete)", "matchedStatuses": ["broken"], "messageRegex": "(?s).*(timed out|closed|exited|cancelled|unreachable|did not finish).*"},
          {"name": "Bad input (error)", "matchedStatuses": ["broken"], "messageRegex": "(?s).*(not found|invalid|missing|unknown).*"},
          {"name": "System under test (fail)", "matchedStatuses": ["failed"]},
          {"name": "Expected failures (xfail) and not applicable", "matchedStatuses": ["skipped"]}
        ]
        """;
}
