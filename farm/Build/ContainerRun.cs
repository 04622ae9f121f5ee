using System.Formats.Tar;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Farm.Build;

/// <summary>What to run: an image, a shell script, files and directories to put in first, and the directory to copy out after.</summary>
internal sealed record ContainerJob(string Image, string Script, IReadOnlyList<(string HostPath, string ContainerPath)> Inputs, string OutputDirectory, IReadOnlyDictionary<string, string> Labels);

/// <summary>How a container run ended: its exit code and the last lines it printed.</summary>
internal sealed record ContainerOutcome(long ExitCode, IReadOnlyList<string> LastLines, TimeSpan Duration);

/// <summary>
/// One build container through the Docker Engine API (Docker.DotNet): create (no network),
/// upload the inputs as tar archives, start, stream its output line by line, wait, copy the output
/// directory out as a tar archive, and remove it — in a finally, with its own deadline, so a build
/// that fails, throws or is cancelled leaves no container behind. Inputs are uploaded rather than
/// bind-mounted so a remote engine (DOCKER_HOST=tcp://...) works the same.
/// </summary>
internal static class ContainerRun
{
    public static async Task<ContainerOutcome> RunAsync(DockerClient docker, ContainerJob job, string outDirectory, Action<string> line, TimeProvider time, CancellationToken ct)
    {
        long t0 = time.GetTimestamp();
        CreateContainerResponse created;
        try
        {
            created = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Image = job.Image,
                Cmd = ["/bin/sh", "-c", job.Script],
                WorkingDir = "/",
                NetworkDisabled = true,
                Labels = job.Labels.ToDictionary(),
                HostConfig = new HostConfig { NetworkMode = "none" },
            }, ct).ConfigureAwait(false);
        }
        catch (DockerImageNotFoundException) { throw MissingImage(job.Image); }
        catch (Exception e) when (EngineFault(e, ct)) { throw EngineFailed("create a container", job.Image, e); }
        var id = created.ID;
        var tail = new Queue<string>();
        var step = "upload the inputs";
        try
        {
            foreach (var (host, path) in job.Inputs)
            {
                await using var tar = await TarOfAsync(host, path.Trim('/'), ct).ConfigureAwait(false);
                await docker.Containers.ExtractArchiveToContainerAsync(id, new ContainerPathStatParameters { Path = "/", AllowOverwriteDirWithFile = false }, tar, ct).ConfigureAwait(false);
            }
            step = "start the container";
            await docker.Containers.StartContainerAsync(id, new ContainerStartParameters(), ct).ConfigureAwait(false);
            step = "stream the build output";
            using (var logs = await docker.Containers.GetContainerLogsAsync(id, tty: false,
                       new ContainerLogsParameters { Follow = true, ShowStdout = true, ShowStderr = true }, ct).ConfigureAwait(false))
            {
                var buffer = new byte[81920];
                var decoder = System.Text.Encoding.UTF8.GetDecoder();
                var chars = new char[buffer.Length];
                var partial = new System.Text.StringBuilder();
                while (true)
                {
                    var r = await logs.ReadOutputAsync(buffer, 0, buffer.Length, ct).ConfigureAwait(false);
                    if (r.EOF) break;
                    int n = decoder.GetChars(buffer, 0, r.Count, chars, 0);
                    for (int i = 0; i < n; i++)
                    {
                        if (chars[i] == '\n') { Emit(partial.ToString()); partial.Clear(); }
                        else if (chars[i] != '\r') partial.Append(chars[i]);
                    }
                }
                if (partial.Length > 0) Emit(partial.ToString());
            }
            step = "wait for the container";
            var wait = await docker.Containers.WaitContainerAsync(id, ct).ConfigureAwait(false);
            if (wait.StatusCode == 0)
            {
                step = "copy the output out";
                var archive = await docker.Containers.GetArchiveFromContainerAsync(id, new GetArchiveFromContainerParameters { Path = job.OutputDirectory }, false, ct).ConfigureAwait(false);
                await using (archive.Stream)
                    await ExtractAsync(archive.Stream, outDirectory, ct).ConfigureAwait(false);
            }
            return new ContainerOutcome(wait.StatusCode, tail.ToList(), time.GetElapsedTime(t0));
        }
        catch (Exception e) when (EngineFault(e, ct)) { throw EngineFailed(step, job.Image, e); }
        finally
        {
            // Never leave a build container behind, whatever happened; not cancellable by the caller's token.
            // On a busy host removing a container that holds a built tree can take minutes; a removal that
            // does not finish in time is a warning naming the container, never the loss of a finished build.
            using var cleanup = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            try { await docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, cleanup.Token).ConfigureAwait(false); }
            catch (DockerContainerNotFoundException) { }
            catch (Exception e) when (cleanup.IsCancellationRequested || e is DockerApiException or HttpRequestException)
            {
                line($"FARM: warning: container {id[..Math.Min(12, id.Length)]} was not removed ({e.GetType().Name}: {e.Message}); remove it with: docker rm -f {id}");
            }
        }

        void Emit(string s)
        {
            tail.Enqueue(s);
            while (tail.Count > 40) tail.Dequeue();
            line(s);
        }
    }

    /// <summary>The id of <paramref name="image"/> on the engine (builds are keyed by it).</summary>
    public static async Task<string> ImageIdAsync(DockerClient docker, string image, CancellationToken ct)
    {
        try { return (await docker.Images.InspectImageAsync(image, ct).ConfigureAwait(false)).ID; }
        catch (DockerImageNotFoundException) { throw MissingImage(image); }
        catch (Exception e) when (EngineFault(e, ct)) { throw EngineFailed("inspect the image", image, e); }
    }

    /// <summary>
    /// The engine failed us rather than the build: it stopped answering (Docker.DotNet's own timeout,
    /// surfacing as a TaskCanceledException the caller did not ask for), the connection broke, or it
    /// answered with a server error. A cancellation the caller asked for stays a cancellation, and a
    /// local file error (a missing input, a full output disk) is not blamed on the engine.
    /// </summary>
    internal static bool EngineFault(Exception e, CancellationToken ct) =>
        e is not FarmException && !ct.IsCancellationRequested && e switch
        {
            DockerApiException api => (int)api.StatusCode >= 500,
            OperationCanceledException or HttpRequestException or HttpIOException => true,
            IOException { InnerException: System.Net.Sockets.SocketException } => true,
            _ => false,
        };

    /// <summary>The lab's fault, so the verdict is incomplete and the build may be retried elsewhere; names the step and the image.</summary>
    internal static InfrastructureException EngineFailed(string step, string image, Exception e) =>
        new($"container engine: could not {step} ({image}): {(e is OperationCanceledException ? "the engine did not answer in time" : e.GetBaseException().Message)}", null, e);

    static ConfigurationException MissingImage(string image) => new($"image {image} is not on the engine; build it with `bash ci/setup-docker.sh`");

    /// <summary>A tar of a directory (or one file) as <paramref name="prefix"/>, in a temporary file deleted on close.</summary>
    static async Task<FileStream> TarOfAsync(string host, string prefix, CancellationToken ct)
    {
        var path = Path.GetTempFileName();
        var fs = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        await using (var w = new TarWriter(fs, TarEntryFormat.Pax, leaveOpen: true))
        {
            if (File.Exists(host)) await w.WriteEntryAsync(host, prefix, ct).ConfigureAwait(false);
            else
            {
                await w.WriteEntryAsync(host, prefix, ct).ConfigureAwait(false);
                foreach (var entry in Directory.EnumerateFileSystemEntries(host, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal))
                {
                    var rel = Path.GetRelativePath(host, entry).Replace('\\', '/');
                    if (rel == ".git" || rel.StartsWith(".git/", StringComparison.Ordinal)) continue;
                    await w.WriteEntryAsync(entry, prefix + "/" + rel, ct).ConfigureAwait(false);
                }
            }
        }
        fs.Position = 0;
        return fs;
    }

    /// <summary>Extracts a "docker cp"-style archive of a directory (entries under its name) into <paramref name="outDirectory"/>.</summary>
    static async Task ExtractAsync(Stream tar, string outDirectory, CancellationToken ct)
    {
        Directory.CreateDirectory(outDirectory);
        var root = Path.GetFullPath(outDirectory) + Path.DirectorySeparatorChar;
        // Buffer the archive first: the engine's response stream may end without tar's two closing blocks.
        await using var buffered = new FileStream(Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        await tar.CopyToAsync(buffered, ct).ConfigureAwait(false);
        buffered.Position = 0;
        await using var reader = new TarReader(buffered);
        while (true)
        {
            TarEntry? e;
            try { e = await reader.GetNextEntryAsync(copyData: false, ct).ConfigureAwait(false); }
            catch (EndOfStreamException) when (buffered.Position == buffered.Length) { break; }
            if (e is null) break;
            var slash = e.Name.IndexOf('/');
            if (slash < 0 || slash == e.Name.Length - 1) continue;          // the directory itself
            var target = Path.GetFullPath(Path.Combine(root, e.Name[(slash + 1)..]));
            if (!target.StartsWith(root, StringComparison.Ordinal)) throw new InfrastructureException($"build output entry {e.Name} escapes {outDirectory}");
            if (e.EntryType == TarEntryType.Directory) Directory.CreateDirectory(target);
            else if (e.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await e.ExtractToFileAsync(target, overwrite: true, ct).ConfigureAwait(false);
            }
        }
    }
}
