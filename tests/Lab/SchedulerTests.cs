using Farm.Lab.Scheduling;

namespace Farm.Tests.Lab;

public class SchedulerTests
{
    static readonly DateTimeOffset T0 = new(2026, 12, 1, 2, 0, 0, TimeSpan.Zero);

    static QueuedWork Job(string id, string user, int minute, string[]? tags = null, string? board = null, int priority = 0, WorkKind kind = WorkKind.Job) =>
        new(id, user, kind, board, tags ?? ["xen"], priority, T0.AddMinutes(minute));

    static readonly SchedBoard[] Lab =
    [
        new("rpi4-1", ["rpi4", "xen"]), new("rpi4-2", ["rpi4", "xen"]), new("zcu102-1", ["zcu102", "xen"], BoardHealth.Quarantined),
        new("qemu-1", ["qemu", "xen"]), new("juno-1", ["juno", "xen"], BoardHealth.Offline),
    ];

    static Dictionary<string, string> Assigned(SchedulePlan p) => p.Assignments.ToDictionary(a => a.Work.Id, a => a.Board);

    [Test]
    public void NeverAssignsOfflineQuarantinedOrHeldBoards()
    {
        var queue = Enumerable.Range(0, 10).Select(i => Job($"j{i}", "nightly", i)).ToList();
        var plan = Scheduler.Plan(queue, Lab, new HashSet<string> { "rpi4-2" });
        Assert.That(plan.Assignments.Select(a => a.Board), Is.EquivalentTo(new[] { "rpi4-1", "qemu-1" }));
        Assert.That(plan.Waiting, Has.Count.EqualTo(8));
        Assert.That(plan.Waiting["j9"], Does.Contain("rpi4-2 held").And.Contain("zcu102-1 quarantined").And.Contain("juno-1 offline"));
    }

    [Test]
    public void TaggedWorkWithNoHealthyBoardWaitsAndSaysSo()
    {
        var plan = Scheduler.Plan([Job("z", "alice", 0, ["zcu102"]), Job("x", "alice", 1, ["riscv"])], Lab, new HashSet<string>());
        Assert.That(plan.Assignments, Is.Empty);
        Assert.That(plan.Waiting["z"], Is.EqualTo("waiting: no healthy board tagged zcu102 (zcu102-1 quarantined)"));
        Assert.That(plan.Waiting["x"], Is.EqualTo("no board tagged riscv in the lab"));
    }

    [Test]
    public void UsersTakeTurnsSoABigBatchCannotStarveOneJob()
    {
        // The nightly queued 20 jobs first; bob queued one later. Two boards: bob is served in the first round.
        var queue = Enumerable.Range(0, 20).Select(i => Job($"n{i}", "nightly", i, ["rpi4"])).Append(Job("bob-1", "bob", 30, ["rpi4"])).ToList();
        var plan = Scheduler.Plan(queue, Lab, new HashSet<string>());
        Assert.That(Assigned(plan).Keys, Is.EquivalentTo(new[] { "n0", "bob-1" }));
    }

    [Test]
    public void AReservationOutranksQueuedJobsButNotARunningOne()
    {
        var queue = new List<QueuedWork>
        {
            Job("nightly-1", "nightly", 0, ["rpi4"]), Job("nightly-2", "nightly", 1, ["rpi4"]),
            Job("alice-res", "alice", 5, board: "rpi4-1", tags: [], kind: WorkKind.Reservation),
        };
        var plan = Scheduler.Plan(queue, Lab, new HashSet<string>());
        Assert.That(Assigned(plan)["alice-res"], Is.EqualTo("rpi4-1"), "queued nightly work does not keep a developer waiting");
        Assert.That(Assigned(plan)["nightly-1"], Is.EqualTo("rpi4-2"));
        Assert.That(plan.Waiting["nightly-2"], Does.Contain("given to"));

        // rpi4-1 is running a job (held): the reservation waits, it never kicks the job off.
        var busy = Scheduler.Plan([Job("alice-res", "alice", 5, board: "rpi4-1", tags: [], kind: WorkKind.Reservation)], Lab, new HashSet<string> { "rpi4-1" });
        Assert.That(busy.Assignments, Is.Empty);
        Assert.That(busy.Waiting["alice-res"], Is.EqualTo("waiting for board rpi4-1 (rpi4-1 held)"));
    }

    [Test]
    public void HigherPriorityFirstThenOldestFirstWithinAUser()
    {
        var queue = new List<QueuedWork> { Job("old", "ci", 0, ["qemu"]), Job("new", "ci", 9, ["qemu"]), Job("urgent", "ci", 10, ["qemu"], priority: 5) };
        Assert.That(Assigned(Scheduler.Plan(queue, Lab, new HashSet<string>())).Keys, Is.EqualTo(new[] { "urgent" }));
        queue.RemoveAt(2);
        Assert.That(Assigned(Scheduler.Plan(queue, Lab, new HashSet<string>())).Keys, Is.EqualTo(new[] { "old" }));
    }
}
