using System.ComponentModel;
using Farm.Reports;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm report [RUN-ID | nightly | nightly-FILE.json] [--out DIR] [--latest N | --run ID...]</c>:
/// lists runs from the store, renders their allure-results/ into one Allure HTML report at
/// <c>&lt;out&gt;/report/index.html</c> and writes a self-contained <c>&lt;out&gt;/report/summary.html</c>.
/// "nightly" reports the runs of the newest nightly-*.json.
/// </summary>
internal sealed class ReportCommand : AsyncCommand<ReportCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "[WHAT]")]
        [Description("A run id, \"nightly\" (the newest nightly-*.json) or a nightly-*.json file; default: the latest runs.")]
        public string? What { get; init; }

        [CommandOption("--out <DIR>")]
        [Description("The directory runs were written to (default: artifacts/).")]
        public string Out { get; init; } = "artifacts";

        [CommandOption("--store <PATH>")]
        [Description("Run store (default: <out>/farm.db).")]
        public string? Store { get; init; }

        [CommandOption("--latest <N>")]
        [Description("Report the N most recent runs (default 10).")]
        public int Latest { get; init; } = 10;

        [CommandOption("--run <ID>")]
        [Description("Report these runs (repeatable) instead of the latest.")]
        public string[] Runs { get; init; } = [];

        [CommandOption("--no-html")]
        [Description("Only list the runs; do not render the Allure HTML report.")]
        public bool NoHtml { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var store = await RunSinks.OpenStoreAsync(s.Out, s.Store, ct);
        var runs = new List<RunRecord>();
        var title = "Farm runs";
        var ids = s.Runs.ToList();
        if (s.What is { } what)
        {
            var nightly = what == "nightly" ? NewestNightly(s.Out) : what.EndsWith(".json", StringComparison.Ordinal) ? what : null;
            if (nightly is null) ids.Add(what);
            else
            {
                ids.AddRange(NightlyRunIds(nightly));
                title = $"Farm nightly {Path.GetFileNameWithoutExtension(nightly)["nightly-".Length..]}";
            }
        }
        if (ids.Count > 0)
            foreach (var id in ids.Distinct())
                runs.Add(await store.GetAsync(id, ct) ?? throw new ConfigurationException($"run {id} is not in {store.Display}"));
        else
            runs.AddRange(await store.LatestAsync(s.Latest, ct));
        if (runs.Count == 0) throw new ConfigurationException($"no runs recorded in {store.Display} (run `farm run <job.yaml> --out {s.Out}` first)");

        var table = new Table().AddColumns("run", "job", "board", "verdict", "seconds", "xen", "checks (pass/fail/xfail/n-a)", "message");
        foreach (var r in runs)
        {
            int Count(CheckVerdict v) => r.Checks.Count(c => c.Verdict == v);
            table.AddRow(Markup.Escape(r.RunId), Markup.Escape(r.Job), Markup.Escape(r.Board), VerdictMarkup(r.Verdict),
                r.Duration.TotalSeconds.ToString("0.0"), Markup.Escape(r.Provenance.XenVersion ?? "-"),
                r.Checks.Count == 0 ? "-" : $"{Count(CheckVerdict.Pass)}/{Count(CheckVerdict.Fail)}/{Count(CheckVerdict.XFail)}/{Count(CheckVerdict.NotApplicable)}",
                Markup.Escape(FirstLine(r.Message)));
        }
        AnsiConsole.Write(table);

        if (CheckMatrix.CheckIds(runs).Count > 0)
        {
            var ordered = runs.OrderBy(r => r.Provenance.XenVersion is null ? 0 : 1).ThenBy(r => r.Start).ToList();
            var matrix = new Table().AddColumn("check");
            foreach (var r in ordered) matrix.AddColumn(Markup.Escape(CheckMatrix.Column(r)));
            foreach (var (id, cells) in CheckMatrix.Build(ordered).Rows)
                matrix.AddRow([Markup.Escape(id), .. cells.Select(cell => cell.Check is { } c ? CellMarkup(c) : "-")]);
            AnsiConsole.Write(matrix);
            var path = Path.Combine(s.Out, CheckMatrix.FileName);
            await AtomicFile.WriteTextAsync(path, CheckMatrix.Markdown(ordered), ct);
            AnsiConsole.MarkupLineInterpolated($"matrix (with the evidence line of every xfail/n-a/fail): {path}");
        }

        var reportDir = Path.Combine(s.Out, "report");
        var summary = Path.Combine(reportDir, SummaryHtml.FileName);
        var now = FarmContext.Of(context).Time.GetUtcNow();
        await AtomicFile.WriteTextAsync(summary, await SummaryHtml.RenderAsync(title, runs, store, now.AddDays(-90), now, ct), ct);
        AnsiConsole.MarkupLineInterpolated($"summary (one self-contained file): {summary}");

        if (!s.NoHtml)
        {
            var dirs = runs.Where(r => r.RunDirectory is not null).Select(r => Path.Combine(r.RunDirectory!, AllureResults.DirectoryName)).ToList();
            var index = await AllureRenderer.RenderAsync(dirs, reportDir, title, ct);
            AnsiConsole.MarkupLineInterpolated($"report: {index}");
        }
        return runs.Select(r => r.Verdict).Aggregate(Verdict.Pass, (a, b) => a.Worst(b)).ExitCode();
    }

    static string NewestNightly(string outDir) =>
        (Directory.Exists(outDir) ? Directory.GetFiles(outDir, "nightly-*.json").Order(StringComparer.Ordinal).LastOrDefault() : null)
        ?? throw new ConfigurationException($"no nightly-*.json in {outDir} (farm nightly writes one)");

    /// <summary>Every run id of every target of a nightly result file (retries included).</summary>
    static IReadOnlyList<string> NightlyRunIds(string path)
    {
        if (!File.Exists(path)) throw new ConfigurationException($"{path}: no such nightly result");
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.GetProperty("targets").EnumerateArray()
                .SelectMany(t => t.GetProperty("runIds").EnumerateArray().Select(id => id.GetString()!)).ToList();
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ConfigurationException($"{path}: not a nightly result ({e.Message})", [path], e);
        }
    }

    static string CellMarkup(CheckResult c) => (c.Verdict, c.Unexpected) switch
    {
        (_, true) => $"[red]{c.Verdict.ToWire()} (expected {c.Expected.ToWire()})[/]",
        (CheckVerdict.Pass, _) => "[green]pass[/]",
        (CheckVerdict.XFail, _) => "[yellow]xfail[/]",
        _ => "[grey]" + Markup.Escape(c.Verdict.ToWire()) + "[/]",
    };

    static string FirstLine(string? s) => s is null ? "" : s.Split('\n')[0];

    internal static string VerdictMarkup(Verdict v) => v switch
    {
        Verdict.Pass => "[green]pass[/]",
        Verdict.Fail => "[red]fail[/]",
        Verdict.Error => "[red]error[/]",
        _ => "[yellow]incomplete[/]",
    };
}
