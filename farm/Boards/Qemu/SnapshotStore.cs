using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Farm.Boards.Qemu;

/// <summary>
/// The on-disk cache of saved QEMU boots: <c>&lt;root&gt;/&lt;board&gt;-&lt;key&gt;/</c> holds
/// <c>state</c> (QEMU's migration stream), <c>ssh-key.pem</c> (the key the saved dom0 accepts),
/// <c>boot.log</c> (the console of the boot it stands for) and <c>snapshot.json</c> (the inputs the
/// key was hashed from, written last: a directory without it is not a snapshot). The key is the
/// hash of every input, so a changed artifact, command line, QEMU or board file is a different
/// key and a cold boot; on a miss, <see cref="Explain"/> names which inputs differ from the newest
/// snapshot of the board. Saves go to a temporary directory renamed into place, so a reader never
/// sees half a snapshot and two runs saving the same key do not collide.
/// </summary>
internal sealed class SnapshotStore(string root, int keepPerBoard = 3)
{
    const string Meta = "snapshot.json";

    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>Hex SHA-256 (first 20 digits) of the inputs, one per line, in the order given.</summary>
    public static string KeyOf(IEnumerable<string> inputs) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', inputs))))[..20];

    string DirectoryOf(string board, string key) => Path.Combine(Root, $"{board}-{key}");

    public string StatePath(string board, string key) => Path.Combine(DirectoryOf(board, key), "state");

    public ResumePoint? Find(string board, string key)
    {
        var dir = DirectoryOf(board, key);
        var meta = ReadMeta(Path.Combine(dir, Meta));
        if (meta is null || !File.Exists(Path.Combine(dir, "state"))) return null;
        return new ResumePoint(key, File.ReadAllText(Path.Combine(dir, "ssh-key.pem")), File.ReadAllLines(Path.Combine(dir, "boot.log")),
            meta.Run, meta.SavedAt);
    }

    /// <summary>Why there is no snapshot for <paramref name="inputs"/>: none yet, or which inputs changed.</summary>
    public string Explain(string board, IReadOnlyList<string> inputs)
    {
        var newest = Snapshots(board).FirstOrDefault();
        if (newest.Meta is null) return $"no snapshot of board {board} yet";
        var before = newest.Meta.Inputs.ToHashSet();
        var changed = inputs.Where(i => !before.Contains(i)).Select(Name)
            .Concat(newest.Meta.Inputs.Except(inputs).Select(Name)).Distinct().ToList();
        return $"inputs changed since snapshot {newest.Meta.Key} (run {newest.Meta.Run}): {string.Join(", ", changed)}";

        static string Name(string input) => input.Split('=', 2)[0];
    }

    /// <summary>A fresh directory to write a snapshot's state into, before <see cref="CommitAsync"/>.</summary>
    public string BeginSave(string board, string key)
    {
        var tmp = Path.Combine(Root, $".tmp-{board}-{key}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        return tmp;
    }

    public async Task<long> CommitAsync(string tmp, string board, string key, IReadOnlyList<string> inputs, SnapshotContents contents,
        DateTimeOffset savedAt, CancellationToken ct)
    {
        await File.WriteAllTextAsync(Path.Combine(tmp, "ssh-key.pem"), contents.SshPrivateKeyPem, ct).ConfigureAwait(false);
        File.SetUnixFileMode(Path.Combine(tmp, "ssh-key.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await File.WriteAllLinesAsync(Path.Combine(tmp, "boot.log"), contents.BootLog, ct).ConfigureAwait(false);
        long bytes = new FileInfo(Path.Combine(tmp, "state")).Length;
        var meta = new SnapshotMeta(key, board, contents.RunId, savedAt, bytes, inputs);
        await File.WriteAllTextAsync(Path.Combine(tmp, Meta), JsonSerializer.Serialize(meta, SnapshotJsonContext.Default.SnapshotMeta), ct).ConfigureAwait(false);
        var dir = DirectoryOf(board, key);
        try
        {
            Directory.Move(tmp, dir);
        }
        catch (IOException) when (Directory.Exists(dir))
        {
            Abandon(tmp);   // another run saved the same key first: same inputs, same machine
        }
        Prune(board);
        return bytes;
    }

    public static void Abandon(string tmp)
    {
        try { Directory.Delete(tmp, recursive: true); }
        catch (DirectoryNotFoundException) { }
    }

    /// <summary>Keeps the newest <c>keepPerBoard</c> snapshots of a board (each is the guest's used RAM).</summary>
    void Prune(string board)
    {
        foreach (var (dir, _) in Snapshots(board).Skip(keepPerBoard))
            Abandon(dir);
    }

    IEnumerable<(string Dir, SnapshotMeta? Meta)> Snapshots(string board) =>
        !Directory.Exists(Root) ? [] :
        Directory.EnumerateDirectories(Root, $"{board}-*")
            .Select(d => (Dir: d, Meta: ReadMeta(Path.Combine(d, Meta))))
            .Where(s => s.Meta is not null && s.Meta.Board == board)
            .OrderByDescending(s => s.Meta!.SavedAt);

    static SnapshotMeta? ReadMeta(string path)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllText(path), SnapshotJsonContext.Default.SnapshotMeta); }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { return null; }
    }

}

/// <summary>A snapshot's <c>meta.json</c>: what it was saved from, when, and its size.</summary>
internal sealed record SnapshotMeta(string Key, string Board, string Run, DateTimeOffset SavedAt, long Bytes, IReadOnlyList<string> Inputs);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(SnapshotMeta))]
internal sealed partial class SnapshotJsonContext : JsonSerializerContext;
