using System.Diagnostics;

namespace Farm;

/// <summary>
/// A child process that cannot outlive Farm. The program runs under a tiny /bin/sh guard whose
/// stdin is a pipe held by Farm: when Farm closes it (stop) or dies (crash, SIGKILL), the guard
/// reads EOF and kills the program. prctl(PDEATHSIG) is not usable from .NET because it fires
/// when the *thread* that forked exits, and thread-pool threads come and go.
/// </summary>
internal sealed class SupervisedProcess : IAsyncDisposable
{
    // $1.. = program and arguments. The watcher subshell waits on the lifeline (stdin, kept
    // as fd 3: a non-interactive shell gives background jobs /dev/null as their stdin).
    const string Guard =
        "exec 3<&0; \"$@\" </dev/null 3<&- & q=$!; (read _ <&3; kill -KILL $q 2>/dev/null) & w=$!; " +
        "wait $q; rc=$?; kill $w 2>/dev/null; exit $rc";

    readonly Process _process;
    readonly List<string> _output = [];
    readonly object _gate = new();
    readonly StreamWriter? _log;
    TaskCompletionSource _outputChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    SupervisedProcess(Process process, StreamWriter? log)
    {
        _process = process;
        _log = log;
    }

    public string Name { get; private init; } = "";

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>Resolves a program name on PATH; a missing tool is bad set-up, not a lab fault.</summary>
    /// <summary><paramref name="s"/> as one POSIX shell word: single-quoted, each ' written '\''.</summary>
    public static string ShellQuote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    public static string Resolve(string program, string hint)
    {
        if (program.Contains('/'))
            return File.Exists(program) ? program : throw new ConfigurationException($"'{program}' does not exist ({hint})");
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var p = Path.Combine(dir, program);
            if (File.Exists(p)) return p;
        }
        throw new ConfigurationException($"'{program}' not found on PATH ({hint})");
    }

    /// <param name="niceness">Run the program at this nice(1) level (QEMU runs at 5, below Farm's console readers).</param>
    public static SupervisedProcess Start(string program, IReadOnlyList<string> args, string? logPath = null, int niceness = 0)
    {
        var psi = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(Guard);
        psi.ArgumentList.Add("farm-guard");
        if (niceness != 0) foreach (var a in new[] { "nice", "-n", niceness.ToString(System.Globalization.CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(program);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var log = logPath is null ? null : new StreamWriter(logPath, append: true) { AutoFlush = true };
        var p = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var sp = new SupervisedProcess(p, log) { Name = Path.GetFileName(program) };
        p.OutputDataReceived += (_, e) => sp.Capture(e.Data);
        p.ErrorDataReceived += (_, e) => sp.Capture(e.Data);
        try
        {
            p.Start();
        }
        catch (Exception e)
        {
            log?.Dispose();
            throw new ConfigurationException($"cannot start {program}: {e.Message}", null, e);
        }
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return sp;
    }

    void Capture(string? line)
    {
        if (line is null) return;
        lock (_gate)
        {
            _output.Add(line);
            if (_output.Count > 500) _output.RemoveRange(0, 100);
            _log?.WriteLine(line);
            var old = _outputChanged;
            _outputChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
            old.TrySetResult();
        }
    }

    /// <summary>
    /// Waits until the program prints a line matching <paramref name="ready"/> (a daemon's "listening"
    /// message) and returns it; a program that exits first is an infrastructure fault with its output.
    /// </summary>
    public async Task<string> WaitForOutputAsync(Func<string, bool> ready, CancellationToken ct)
    {
        using var exited = CancellationTokenSource.CreateLinkedTokenSource(ct, ExitedToken());
        int seen = 0;
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                // Lines trimmed from the front of the buffer shift indices; rescanning a few is harmless.
                for (int i = Math.Min(seen, _output.Count); i < _output.Count; i++)
                    if (ready(_output[i])) return _output[i];
                seen = _output.Count;
                changed = _outputChanged.Task;
            }
            try
            {
                await changed.WaitAsync(exited.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                lock (_gate)
                    foreach (var l in _output) if (ready(l)) return l;
                throw new InfrastructureException($"{Name} exited with code {_process.ExitCode} before it was ready", OutputTail());
            }
        }
    }

    /// <summary>The program's last stdout/stderr lines (evidence for a failed start).</summary>
    public IReadOnlyList<string> OutputTail(int count = 20)
    {
        lock (_gate) return _output.Skip(Math.Max(0, _output.Count - count)).ToList();
    }

    public Task WaitForExitAsync(CancellationToken ct) => _process.WaitForExitAsync(ct);

    /// <summary>A token that is cancelled when the process exits, to abort waits that need it alive.</summary>
    public CancellationToken ExitedToken()
    {
        var cts = new CancellationTokenSource();
        _process.Exited += (_, _) => cts.Cancel();
        if (_process.HasExited) cts.Cancel();
        return cts.Token;
    }

    /// <summary>Cuts the lifeline (the guard kills the program) and waits for it, then kills the tree if needed.</summary>
    public async Task KillAsync(TimeSpan grace)
    {
        try { _process.StandardInput.Close(); } catch (IOException) { } catch (InvalidOperationException) { }
        using var cts = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) await KillAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        else await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false); // drain output events
        lock (_gate) _log?.Dispose();
        _process.Dispose();
    }
}
