using System.Globalization;
using System.Xml.Linq;
using Farm.Checks;
using Farm.Jobs;

namespace Farm.Reports;

/// <summary>
/// <c>junit.xml</c> for CI servers: one test suite per run, a test case per stage and per check.
/// A stage that failed is a &lt;failure&gt;; incomplete or error is an &lt;error&gt; (the lab or the
/// input, not the system under test); xfail and n/a checks are &lt;skipped&gt; with their evidence.
/// </summary>
internal sealed class JUnitReport : IRunSink
{
    public const string FileName = "junit.xml";

    public Task StartedAsync(RunRecord pending, CancellationToken ct) => Task.CompletedTask;

    public Task FinishedAsync(RunRecord final, CancellationToken ct) =>
        final.RunDirectory is { } dir
            ? AtomicFile.WriteTextAsync(Path.Combine(dir, FileName), ToXml(Render(final)), ct)
            : Task.CompletedTask;

    public static XDocument Render(RunRecord run)
    {
        var cases = new List<XElement>();
        foreach (var s in run.Stages)
        {
            var c = Case($"stage.{run.Board}", s.Name, s.Duration);
            switch (s.Status)
            {
                case StageStatus.Failed:
                    c.Add(new XElement("failure", new XAttribute("message", s.Message ?? "failed"), new XAttribute("type", s.FailureClass ?? "check"), s.Message));
                    break;
                case StageStatus.Incomplete or StageStatus.Error:
                    c.Add(new XElement("error", new XAttribute("message", s.Message ?? s.Status.ToString()), new XAttribute("type", s.FailureClass ?? "infrastructure"), s.Message));
                    break;
                case StageStatus.Skipped:
                    c.Add(new XElement("skipped", new XAttribute("message", s.Message ?? "not reached")));
                    break;
            }
            cases.Add(c);
        }
        foreach (var k in run.Checks)
        {
            var c = Case(k.Guest is null ? $"check.{k.Group}" : $"guest.{k.Guest}.check.{k.Group}", k.Id, TimeSpan.Zero);
            var body = string.Join('\n', [k.Summary, $"expected: {k.Expected.ToWire()}", $"source: {k.Source}", .. k.Evidence]);
            switch (k.Verdict)
            {
                case CheckVerdict.Fail:
                    c.Add(new XElement("failure", new XAttribute("message", k.Summary), new XAttribute("type", "check"), body));
                    break;
                case CheckVerdict.XFail or CheckVerdict.NotApplicable:
                    c.Add(new XElement("skipped", new XAttribute("message", $"{k.Verdict.ToWire()}: {k.Summary}")));
                    c.Add(new XElement("system-out", body));
                    break;
                default:
                    c.Add(new XElement("system-out", body));
                    break;
            }
            cases.Add(c);
        }
        if (run.Stages.Count == 0 && run.Verdict != Verdict.Pass)
        {
            var c = Case($"run.{run.Board}", "run", run.Duration);
            c.Add(new XElement("error", new XAttribute("message", run.Message ?? run.Verdict.ToWire()), new XAttribute("type", run.FailureClass ?? run.Verdict.ToWire()), run.Message));
            cases.Add(c);
        }

        int Count(string tag) => cases.Count(c => c.Element(tag) is not null);
        var suite = new XElement("testsuite",
            new XAttribute("name", $"{run.Job} on {run.Board}"),
            new XAttribute("tests", cases.Count),
            new XAttribute("failures", Count("failure")),
            new XAttribute("errors", Count("error")),
            new XAttribute("skipped", Count("skipped")),
            new XAttribute("time", Seconds(run.Duration)),
            new XAttribute("timestamp", run.Start.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture)),
            new XAttribute("id", run.RunId),
            new XElement("properties",
                Property("verdict", run.Verdict.ToWire()),
                Property("run-id", run.RunId),
                Property("xen-version", run.Provenance.XenVersion),
                Property("linux-version", run.Provenance.LinuxVersion),
                Property("snapshot", run.Provenance.Snapshot),
                Property("ssh-host-key", run.Provenance.SshHostKey),
                Property("qemu-version", run.Provenance.QemuVersion)),
            cases);
        return new XDocument(new XDeclaration("1.0", "utf-8", null), new XElement("testsuites", suite));
    }

    /// <summary>The document as text, with its XML declaration (XDocument.ToString drops it).</summary>
    public static string ToXml(XDocument doc) => doc.Declaration + Environment.NewLine + doc.Root;

    static XElement Case(string className, string name, TimeSpan time) =>
        new("testcase", new XAttribute("classname", className), new XAttribute("name", name), new XAttribute("time", Seconds(time)));

    static XElement? Property(string name, string? value) =>
        value is null ? null : new XElement("property", new XAttribute("name", name), new XAttribute("value", value));

    static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
}
