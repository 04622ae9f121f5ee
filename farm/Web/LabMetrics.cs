using Farm.Lab.Leases;
using Farm.Lab.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Prometheus;

namespace Farm.Web;

/// <summary>
/// <c>/metrics</c> in Prometheus text format (prometheus-net), read from the lab at scrape time:
/// runs by verdict, boards by health, leases by kind, jobs waiting in the queue, and each board's
/// latest stage durations. Its own registry, so nothing else in the process leaks into it.
/// </summary>
internal static class LabMetrics
{
    public static void Map(WebApplication app, LabView view)
    {
        var registry = Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(registry);
        var runs = f.CreateGauge("farm_runs", "Runs in the run store, by verdict.", "verdict");
        var boards = f.CreateGauge("farm_boards", "Boards in the lab, by health.", "health");
        var leased = f.CreateGauge("farm_boards_leased", "Boards held by a lease.");
        var leases = f.CreateGauge("farm_leases", "Active leases, by kind.", "kind");
        var queue = f.CreateGauge("farm_queue_length", "Jobs queued and not yet claimed.");
        var stages = f.CreateGauge("farm_stage_duration_seconds", "Stage durations of each board's latest finished run.", "board", "stage");

        registry.AddBeforeCollectCallback(async ct =>
        {
            var store = await view.RunsAsync(ct).ConfigureAwait(false);
            var counts = store is null ? new Dictionary<string, long>() : await store.CountByVerdictAsync(ct).ConfigureAwait(false);
            foreach (var v in Enum.GetValues<Verdict>()) runs.WithLabels(v.ToWire()).Set(counts.GetValueOrDefault(v.ToWire()));
            var rows = await view.BoardsAsync(ct).ConfigureAwait(false);
            foreach (var h in Enum.GetValues<BoardHealth>()) boards.WithLabels(h.ToString().ToLowerInvariant()).Set(rows.Count(r => r.Health.Health == h));
            leased.Set(rows.Count(r => r.Lease is not null));
            var active = await view.Leases.ActiveAsync(ct).ConfigureAwait(false);
            foreach (var k in Enum.GetValues<LeaseKind>()) leases.WithLabels(k.ToString().ToLowerInvariant()).Set(active.Count(l => l.Kind == k));
            queue.Set(await view.Queue.LengthAsync(ct).ConfigureAwait(false));
            foreach (var r in rows)
                if (r.LastRun is { } run)
                    foreach (var s in run.Stages) stages.WithLabels(r.Spec.Name, s.Name).Set(s.Duration.TotalSeconds);
        });

        app.MapGet("/metrics", async (HttpContext ctx) =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await registry.CollectAndExportAsTextAsync(ctx.Response.Body, ctx.RequestAborted);
        });
    }
}
