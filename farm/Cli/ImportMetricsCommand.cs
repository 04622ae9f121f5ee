using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using Farm.Reports;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm import-metrics &lt;file.json&gt;... [--job bench]</c>: records measurements made outside a
/// job (ci/bench's JSON) as one run in the store, every numeric leaf a metric named by its path
/// (<c>console-cpu.farm.percentPerConsole</c>), so Farm's own performance has trends like Xen's.
/// </summary>
internal sealed class ImportMetricsCommand : AsyncCommand<ImportMetricsCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<file>")]
        [Description("JSON files; a top-level \"name\" prefixes the file's metrics.")]
        public string[] Files { get; init; } = [];

        [CommandOption("--job <NAME>")]
        [Description("The job name the run is recorded under (default: bench).")]
        public string Job { get; init; } = "bench";

        [CommandOption("--out <DIR>")]
        [Description("Output directory whose store receives the run (default: artifacts/).")]
        public string Out { get; init; } = "artifacts";

        [CommandOption("--store <PATH>")]
        [Description("SQLite store (default: <out>/farm.db).")]
        public string? Store { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var metrics = new Dictionary<string, double>();
        foreach (var file in s.Files)
        {
            JsonNode? root;
            try
            {
                root = JsonNode.Parse(await File.ReadAllTextAsync(file, ct));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ConfigurationException($"cannot read metrics file {file}: {e.Message}", null, e);
            }
            catch (JsonException e)
            {
                throw new ConfigurationException($"{file}: not JSON: {e.Message}", null, e);
            }
            if (root is not JsonObject obj)
                throw new ConfigurationException($"{file}: expected a JSON object of measurements");
            var prefix = obj["name"]?.GetValueKind() == JsonValueKind.String ? obj["name"]!.GetValue<string>() : Path.GetFileNameWithoutExtension(file);
            Flatten(prefix, obj, metrics);
        }
        if (metrics.Count == 0) throw new ConfigurationException($"no numeric measurements in {string.Join(", ", s.Files)}");
        var now = FarmContext.Of(context).Time.GetUtcNow();
        var record = new RunRecord($"{now.UtcDateTime:yyyyMMdd-HHmmss}-{s.Job}-{Guid.NewGuid().ToString("N")[..6]}", s.Job,
            $"{Environment.MachineName} ({Environment.ProcessorCount} cores)", Verdict.Pass, now, TimeSpan.Zero, [], [],
            new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), metrics, null, null, null);
        var store = await RunSinks.OpenStoreAsync(s.Out, s.Store, ct);
        await store.SaveAsync(record, ct);
        AnsiConsole.MarkupLine($"recorded {metrics.Count} metrics as run {Markup.Escape(record.RunId)} in {Markup.Escape(store.Display)}");
        return 0;
    }

    static void Flatten(string path, JsonNode? node, Dictionary<string, double> into)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o) Flatten($"{path}.{k}", v, into);
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.Number:
                into[path] = v.GetValue<double>();
                break;
        }
    }
}
