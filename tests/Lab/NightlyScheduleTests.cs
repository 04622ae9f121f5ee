using Farm.Lab;
using Farm.Lab.Queue;
using Microsoft.Extensions.Time.Testing;

namespace Farm.Tests.Lab;

/// <summary>The schedule inside farm serve, a week of nights on a fake clock.</summary>
public class NightlyScheduleTests
{
    [Test]
    public void NextIsTodayIfStillAheadElseTomorrow()
    {
        var at = TimeSpan.FromHours(2);
        Assert.That(NightlySchedule.Next(new DateTimeOffset(2026, 12, 1, 1, 0, 0, TimeSpan.Zero), at), Is.EqualTo(new DateTimeOffset(2026, 12, 1, 2, 0, 0, TimeSpan.Zero)));
        Assert.That(NightlySchedule.Next(new DateTimeOffset(2026, 12, 1, 2, 0, 0, TimeSpan.Zero), at), Is.EqualTo(new DateTimeOffset(2026, 12, 2, 2, 0, 0, TimeSpan.Zero)));
        Assert.That(NightlySchedule.Next(new DateTimeOffset(2026, 12, 1, 23, 0, 0, TimeSpan.FromHours(-5)), at), Is.EqualTo(new DateTimeOffset(2026, 12, 3, 2, 0, 0, TimeSpan.Zero)), "UTC, whatever the offset");
    }

    [Test]
    public async Task QueuesTheNightlyOncePerNightAndRequeuesSilentAgentsJobs()
    {
        var dir = Directory.CreateTempSubdirectory("farm-schedule-").FullName;
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 1, 0, 0, TimeSpan.Zero));
        await using (var db = await LabDatabase.OpenAsync($"Data Source={Path.Combine(dir, "lab.db")}", default))
        {
            var queue = new JobQueue(db, time);
            var schedule = new NightlySchedule(queue, TimeSpan.FromHours(2), ["jobs/native-smoke.yaml", "jobs/xen-smoke.yaml"], time, TimeSpan.FromMinutes(1));
            using var cts = new CancellationTokenSource();
            var running = schedule.RunAsync(cts.Token);

            async Task<List<QueuedJob>> AfterAsync(TimeSpan span)
            {
                for (var step = span > TimeSpan.FromDays(1) ? TimeSpan.FromHours(3) : TimeSpan.FromMinutes(30); span > TimeSpan.Zero; span -= step)
                {
                    time.Advance(span < step ? span : step);
                    await Task.Delay(20);
                }
                return (await queue.ListAsync(100, default)).ToList();
            }

            Assert.That(await AfterAsync(TimeSpan.FromMinutes(59)), Is.Empty, "01:59: not yet");
            var first = await AfterAsync(TimeSpan.FromMinutes(2));
            Assert.That(first.Select(j => (j.Job, j.Board, j.Requester, j.Priority)), Is.EquivalentTo(new[]
            {
                ("jobs/native-smoke.yaml", JobQueue.AnyBoard, "nightly", NightlySchedule.Priority), ("jobs/xen-smoke.yaml", JobQueue.AnyBoard, "nightly", NightlySchedule.Priority),
            }));
            Assert.That(await AfterAsync(TimeSpan.FromHours(12)), Has.Count.EqualTo(2), "once a night");

            // An agent claims a job and dies; the schedule's reaper puts it back.
            var claimed = await queue.ClaimAsync("bench-a", j => "qemu-xen", default);
            await queue.LoadedAsync(claimed!.Id, "bench-a", default);
            await AfterAsync(TimeSpan.FromMinutes(3));
            Assert.That((await queue.GetAsync(claimed!.Id, default))!.State, Is.EqualTo("queued"));

            Assert.That(await AfterAsync(TimeSpan.FromDays(6)), Has.Count.EqualTo(14), "a week: two jobs a night");
            await cts.CancelAsync();
            await running;
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(dir, recursive: true);
    }
}
