using Farm.Boards.Qemu;

namespace Farm.Tests.Jobs;

/// <summary>The snapshot cache's bookkeeping, on a temp directory (the QEMU side is in scenarios/SnapshotScenarios).</summary>
public class SnapshotStoreTests
{
    string _root = "";

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("farm-snap-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    static readonly string[] Inputs = ["format=1", "argv=-m 2048", "sha256:xen=aa", "sha256:initrd=bb"];

    async Task<string> SaveAsync(SnapshotStore store, string board, IReadOnlyList<string> inputs, DateTimeOffset at, string run = "run-1")
    {
        var key = SnapshotStore.KeyOf(inputs);
        var tmp = store.BeginSave(board, key);
        await File.WriteAllBytesAsync(Path.Combine(tmp, "state"), new byte[1000]);
        await store.CommitAsync(tmp, board, key, inputs, new SnapshotContents("PEM", ["(XEN) Xen version 4.17", "root@farm:~# "], run), at, CancellationToken.None);
        return key;
    }

    [Test]
    public void KeyDependsOnEveryInputAndItsOrder()
    {
        Assert.That(SnapshotStore.KeyOf(Inputs), Is.EqualTo(SnapshotStore.KeyOf([.. Inputs])).And.Length.EqualTo(20));
        Assert.That(SnapshotStore.KeyOf(Inputs), Is.Not.EqualTo(SnapshotStore.KeyOf([.. Inputs[..3], "sha256:initrd=bc"])));
        Assert.That(SnapshotStore.KeyOf(Inputs), Is.Not.EqualTo(SnapshotStore.KeyOf(Inputs.Reverse())));
    }

    [Test]
    public async Task SavedSnapshotIsFoundWithItsKeyAndBootLog()
    {
        var store = new SnapshotStore(_root);
        Assert.That(store.Explain("b", Inputs), Is.EqualTo("no snapshot of board b yet"));
        var key = await SaveAsync(store, "b", Inputs, DateTimeOffset.UnixEpoch);
        var found = store.Find("b", key);
        Assert.That(found, Is.Not.Null);
        Assert.That(found!.SshPrivateKeyPem, Is.EqualTo("PEM"));
        Assert.That(found.BootLog, Is.EqualTo(new[] { "(XEN) Xen version 4.17", "root@farm:~# " }));
        Assert.That(found.SavedByRun, Is.EqualTo("run-1"));
        Assert.That(store.Find("other-board", key), Is.Null, "snapshots are per board");
        Assert.That(Directory.GetDirectories(_root).Select(Path.GetFileName), Is.EqualTo(new[] { $"b-{key}" }), "no temp directory left");
    }

    [Test]
    public async Task DirectoryWithoutMetadataIsNotASnapshot()
    {
        var store = new SnapshotStore(_root);
        var key = SnapshotStore.KeyOf(Inputs);
        Directory.CreateDirectory(Path.Combine(_root, $"b-{key}"));
        await File.WriteAllBytesAsync(store.StatePath("b", key), new byte[10]);   // a save cut off before snapshot.json
        Assert.That(store.Find("b", key), Is.Null);
    }

    [Test]
    public async Task MissNamesTheInputsThatChanged()
    {
        var store = new SnapshotStore(_root);
        var key = await SaveAsync(store, "b", Inputs, DateTimeOffset.UnixEpoch);
        string[] changed = [.. Inputs[..3], "sha256:initrd=cc"];
        Assert.That(store.Find("b", SnapshotStore.KeyOf(changed)), Is.Null);
        Assert.That(store.Explain("b", changed), Is.EqualTo($"inputs changed since snapshot {key} (run run-1): sha256:initrd"));
    }

    [Test]
    public async Task KeepsTheNewestSnapshotsOfEachBoard()
    {
        var store = new SnapshotStore(_root, keepPerBoard: 2);
        var keys = new List<string>();
        for (int i = 0; i < 4; i++)
            keys.Add(await SaveAsync(store, "b", [.. Inputs, $"n={i}"], DateTimeOffset.UnixEpoch.AddHours(i)));
        var other = await SaveAsync(store, "c", Inputs, DateTimeOffset.UnixEpoch);
        Assert.That(keys.Select(k => store.Find("b", k) is not null), Is.EqualTo(new[] { false, false, true, true }));
        Assert.That(store.Find("c", other), Is.Not.Null, "another board's snapshots are not pruned");
    }

    [Test]
    public async Task SecondSaveOfTheSameKeyKeepsTheFirst()
    {
        var store = new SnapshotStore(_root);
        var key = await SaveAsync(store, "b", Inputs, DateTimeOffset.UnixEpoch, run: "first");
        await SaveAsync(store, "b", Inputs, DateTimeOffset.UnixEpoch.AddHours(1), run: "second");
        Assert.That(store.Find("b", key)!.SavedByRun, Is.EqualTo("first"));
        Assert.That(Directory.GetDirectories(_root), Has.Length.EqualTo(1));
    }
}
