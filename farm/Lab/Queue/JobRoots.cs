using System.Runtime.InteropServices;
using Farm.Jobs.Spec;

namespace Farm.Lab.Queue;

/// <summary>
/// The directories an agent loads queued job files from (its checkout's <c>jobs/</c> by default).
/// A queued path is anyone's text: it is followed through every symlink to the file it really names,
/// which must lie inside a root, be a regular file and be small, before a byte of it is read; a
/// path that fails says why without quoting the file.
/// </summary>
internal sealed partial class JobRoots
{
    /// <summary>Largest job file an agent reads (real ones are a few kB).</summary>
    public const int MaxBytes = 256 * 1024;

    readonly IReadOnlyList<string> _roots;

    public JobRoots(IEnumerable<string> roots) =>
        _roots = [.. roots.Select(r => RealPath(r) ?? Path.GetFullPath(r)).Select(r => Path.EndsInDirectorySeparator(r) ? r : r + Path.DirectorySeparatorChar)];

    public IReadOnlyList<string> Roots => _roots;

    /// <summary>The job file's text, or a <see cref="ConfigurationException"/> naming what is wrong with the path.</summary>
    public string Read(string path)
    {
        if (string.IsNullOrWhiteSpace(path) || path.Length > 4096 || path.Any(char.IsControl))
            throw new ConfigurationException("job path is empty, too long or has control characters");
        var real = RealPath(path) ?? throw new ConfigurationException($"job file not found: {path}");
        if (!_roots.Any(r => real.StartsWith(r, StringComparison.Ordinal)))
            throw new ConfigurationException($"job file {path} is outside this agent's job roots ({string.Join(", ", _roots)})");
        FileStream f;
        try
        {
            if (Directory.Exists(real)) throw new ConfigurationException($"job file {path} is a directory");
            f = new FileStream(real, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"cannot read job file {path}: {e.GetType().Name}", null, e);
        }
        using (f)
        {
            // Devices and pipes cannot seek; /dev/zero would otherwise be read until memory runs out.
            if (!f.CanSeek) throw new ConfigurationException($"job file {path} is not a regular file");
            if (f.Length > MaxBytes) throw new ConfigurationException($"job file {path} is {f.Length} bytes, more than the {MaxBytes}-byte limit");
            var buffer = new byte[MaxBytes + 1];
            int n = 0, got;
            while (n < buffer.Length && (got = f.Read(buffer, n, buffer.Length - n)) > 0) n += got;
            if (n > MaxBytes) throw new ConfigurationException($"job file {path} grew past the {MaxBytes}-byte limit while being read");
            return new System.Text.UTF8Encoding(false, false).GetString(buffer, 0, n);
        }
    }

    /// <summary>Loads a queued job through <see cref="Read"/>.</summary>
    public JobSpec Load(string path) => JobFile.Parse(Read(path), path);

    /// <summary>The path with every symlink resolved (realpath(3)), or null if it does not exist.</summary>
    static string? RealPath(string path)
    {
        var p = RealPathNative(Path.GetFullPath(path), IntPtr.Zero);
        if (p == IntPtr.Zero) return null;
        try { return Marshal.PtrToStringUTF8(p); }
        finally { Free(p); }
    }

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr RealPathNative(string path, IntPtr resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(IntPtr p);
}
