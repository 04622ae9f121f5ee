using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Farm.Lab;
using Farm.Reports.Trends;
using Farm.Web.Ui;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm trend-bench [--nights 365] [--targets 20] [--repeat 30]</c>: seeds a run store with a
/// year of nightly runs for 20 targets, then times what the trends page does for one metric
/// (store query, one series per target, change-point search, what-changed lookups, SVG) against a
/// bare baseline measured in the same process: the same rows read with one plain SQL query.
/// Prints one JSON line (ci/bench).
/// </summary>
internal sealed class TrendBenchCommand : AsyncCommand<TrendBenchCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--nights <N>")]
        public int Nights { get; init; } = 365;

        [CommandOption("--targets <N>")]
        public int Targets { get; init; } = 20;

        [CommandOption("--repeat <N>")]
        [Description("Timed repetitions of each side (after one warm-up).")]
        public int Repeat { get; init; } = 30;

        [CommandOption("--metric <NAME>")]
        public string Metric { get; init; } = "boot.dom0-prompt.seconds";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("farm-trend-bench-").FullName;
        try
        {
            var store = await RunStores.OpenAsync(Path.Combine(dir, "farm.db"), ct);
            var end = FarmContext.Of(context).Time.GetUtcNow();
            long t0 = Stopwatch.GetTimestamp();
            await store.SaveManyAsync(SyntheticHistory.Nightly(s.Nights, s.Targets, end, changeAt: s.Nights * 4 / 5), ct);
            var seedSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            var since = end.AddDays(-s.Nights - 1);
            int points = 0, shifts = 0;
            var where = "";

            async Task<double> Farm()
            {
                long t = Stopwatch.GetTimestamp();
                var series = await TrendQuery.LoadAsync(store, s.Metric, since, ct);
                int chars = series.Sum(x => SvgChart.Render(x).Length);
                (points, shifts) = (series.Sum(x => x.Points.Count), series.Sum(x => x.Shifts.Count));
                where = string.Join(", ", series.SelectMany(x => x.Shifts.Select(sh => $"{x.Target} at {sh.After.Start:yyyy-MM-dd} ({sh.Point.Relative:+0%;-0%})")));
                return chars > 0 ? Stopwatch.GetElapsedTime(t).TotalMilliseconds : double.NaN;
            }
            async Task<double> Bare()
            {
                long t = Stopwatch.GetTimestamp();
                var rows = await store.MetricHistoryAsync(s.Metric, since, ct);
                return rows.Count > 0 ? Stopwatch.GetElapsedTime(t).TotalMilliseconds : double.NaN;
            }
            await Farm();
            await Bare();
            var farm = new List<double>();
            var bare = new List<double>();
            for (int i = 0; i < s.Repeat; i++) { farm.Add(await Farm()); bare.Add(await Bare()); }
            double Median(List<double> x) => ChangePoints.Median(x, 0, x.Count);
            double P95(List<double> x) => x.Order().ElementAt(Math.Max(0, (int)Math.Ceiling(x.Count * 0.95) - 1));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"name\": \"trends\", \"nights\": {s.Nights}, \"targets\": {s.Targets}, \"runs\": {s.Nights * s.Targets}, \"points\": {points}, \"shifts\": {shifts}, \"shiftsAt\": \"{where}\", \"seedSeconds\": {seedSeconds:0.00}, " +
                $"\"farmMedianMs\": {Median(farm):0.00}, \"farmP95Ms\": {P95(farm):0.00}, \"bareMedianMs\": {Median(bare):0.00}, \"ratio\": {Median(farm) / Median(bare):0.00}}}"));
            return P95(farm) < 200 ? 0 : 1;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }
}
