using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Farm.Guests;
using Farm.Jobs.Spec;
using Farm.Serial;

namespace Farm.Jobs.Stages;

/// <summary>
/// One guest's live state during a run: which devices were offered to pciback, whether the domain
/// exists, and its console (an <c>xl console</c> terminal over SSH into dom0, fed to its own
/// broker, transcript and crash watch), plus each guest stage's outcome line for the checks.
/// </summary>
internal sealed class GuestSession(GuestSpec spec, string directory)
{
    public GuestSpec Spec { get; } = spec;

    /// <summary><c>&lt;board&gt;/guests/&lt;name&gt;</c>: console.log, console.raw, evidence/.</summary>
    public string Directory { get; } = directory;

    public string ConfigPath => $"/tmp/farm-guest-{Spec.Name}.cfg";

    /// <summary>Devices pci-assignable-add was tried on (they may be bound to pciback even when it failed).</summary>
    public List<string> Offered { get; } = [];

    public bool Created { get; set; }

    /// <summary>Set when the toolstack refused the guest (assign or create): its later stages do not run, and the checks judge the refusal.</summary>
    public string? Refused { get; set; }

    public Stream? Terminal { get; set; }
    public ConsoleBroker? Console { get; set; }
    public ConsoleTranscript? Transcript { get; set; }
    public ConsoleCursor? Cursor { get; set; }
    public CrashWatch? Crashes { get; set; }
    public long CreatedAt { get; set; }
    public bool ShellLoop { get; set; }

    /// <summary>Guest stage kind → "&lt;stage&gt; &lt;status&gt; &lt;message&gt;".</summary>
    public Dictionary<string, string> Outcome { get; } = [];
}

/// <summary>
/// A stage of one guest (named <c>&lt;kind&gt;.&lt;guest&gt;</c>, e.g. <c>guest-prompt.g1</c>). It runs once dom0's
/// shell is ready, records its outcome line under <c>domU:&lt;g&gt;:outcome</c>, and dom0 lifecycle
/// commands are evidence under <c>dom0:&lt;g&gt;:&lt;stage&gt;:&lt;command&gt;</c> ending in <c>FARM-EXIT &lt;code&gt;</c>.
/// </summary>
internal abstract class GuestStage(StageKind kind, GuestSpec guest, TimeSpan timeout) : Stage($"{kind.Name}.{guest.Name}", timeout)
{
    public StageKind Kind { get; } = kind;
    public GuestSpec Guest { get; } = guest;

    /// <summary>
    /// The job judges its evidence with checks: then a toolstack refusal (xl pci-assignable-add, xl
    /// create, pci-assignable-remove) is recorded and left to them, since only they can tell a known
    /// platform gap (xfail: no IOMMU, upstream Arm without domU vPCI) from a regression (fail).
    /// Without checks, a refusal fails the stage.
    /// </summary>
    public bool JudgedByChecks { get; init; }

    /// <summary>Thrown by <see cref="Refuse"/> when the checks will judge the refusal: the stage ends as recorded, not failed.</summary>
    sealed class RefusedException(string message) : Exception(message);

    protected static GuestSession? SessionOf(RunContext ctx, GuestSpec g) => ctx.Guests.TryGetValue(g.Name, out var s) ? s : null;

    protected GuestSession Session(RunContext ctx) =>
        ctx.Guests.GetOrAdd(Guest.Name, n => new GuestSession(Guest, Path.Combine(ctx.RunDirectory, "guests", n)));

    public override bool ShouldRun(RunContext ctx) => ctx.Shell is not null;

    public sealed override async Task RunAsync(RunContext ctx, CancellationToken ct)
    {
        var s = Session(ctx);
        try
        {
            await RunGuestAsync(ctx, s, ct).ConfigureAwait(false);
            Record(ctx, s, "passed", "");
        }
        catch (RefusedException e)
        {
            Record(ctx, s, "refused", e.Message);
        }
        catch (FarmException e)
        {
            Record(ctx, s, e.Verdict switch { Verdict.Fail => "failed", Verdict.Error => "error", _ => "incomplete" }, e.Message);
            throw;
        }
        catch (OperationCanceledException)
        {
            Record(ctx, s, "incomplete", $"timed out or cancelled (timeout {Timeout.TotalSeconds:0.###}s)");
            throw;
        }
    }

    protected abstract Task RunGuestAsync(RunContext ctx, GuestSession s, CancellationToken ct);

    void Record(RunContext ctx, GuestSession s, string status, string message)
    {
        s.Outcome[Kind.Name] = $"{Kind.Name} {status} {message.ReplaceLineEndings(" ")}".TrimEnd();
        ctx.CommandOutputs[$"domU:{Guest.Name}:outcome"] =
            string.Join("\n", StageKinds.Guest.Select(k => s.Outcome.GetValueOrDefault(k.Name, $"{k.Name} skipped")));
    }

    /// <summary>Runs a dom0 command for this guest and keeps it as evidence; returns the result.</summary>
    protected async Task<CommandResult> Dom0Async(RunContext ctx, string stage, string command, CancellationToken ct, bool evidence = true)
    {
        var shell = ctx.Shell ?? throw new InfrastructureException($"stage '{Name}': no shell in dom0");
        CommandResult r = null!;
        await ctx.WatchedAsync(Name, async t => r = await shell.RunAsync(command, Timeout, t).ConfigureAwait(false), ct).ConfigureAwait(false);
        if (!evidence) return r;
        var text = (r.StdOut + r.StdErr).TrimEnd('\n');
        var key = $"dom0:{Guest.Name}:{stage}:{command}";
        var output = (text.Length == 0 ? "" : text + "\n") + $"FARM-EXIT {r.ExitCode}";
        ctx.CommandOutputs[key] = output;
        // The same step on disk, in the order it ran ('==> key <==' then its output, as tests/Golden/guests has
        // them): the guest checks' dom0 evidence outlives the run's memory.
        if (SessionOf(ctx, Guest) is { } s)
        {
            System.IO.Directory.CreateDirectory(s.Directory);
            await File.AppendAllTextAsync(Path.Combine(s.Directory, Dom0StepsFile), $"==> {key} <==\n{output}\n", ct).ConfigureAwait(false);
        }
        return r;
    }

    /// <summary>Every dom0 step of a guest's stages with its output, under the guest's directory.</summary>
    public const string Dom0StepsFile = "dom0-steps.log";

    /// <summary>A non-zero exit of a lifecycle command is the system under test refusing: fail, quoting what it said.</summary>
    protected static void RequireSuccess(CommandResult r, string what)
    {
        if (r.ExitCode == 0) return;
        var (quote, said) = Quote(r);
        throw new CheckFailedException($"{what}: '{r.Command}' exited {r.ExitCode}: {quote}", said);
    }

    /// <summary>A toolstack refusal: left to the checks when the job has them (the guest's later stages are skipped), else a failure.</summary>
    protected void Refuse(GuestSession s, CommandResult r, string what)
    {
        if (r.ExitCode == 0) return;
        if (!JudgedByChecks) RequireSuccess(r, what);
        var message = $"{what}: '{r.Command}' exited {r.ExitCode}: {Quote(r).Quote}";
        s.Refused ??= message;
        throw new RefusedException(message);
    }

    static (string Quote, string[] Said) Quote(CommandResult r)
    {
        var said = (r.StdOut + r.StdErr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        // libxl says why (xl's own lines and libxc's come first but explain less).
        var quote = said.FirstOrDefault(l => l.StartsWith("libxl: error", StringComparison.Ordinal))
                    ?? said.FirstOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)) ?? said.LastOrDefault() ?? "(no output)";
        return (quote, said);
    }
}

/// <summary>guest-assign: <c>xl pci-assignable-add</c> for each device, output kept.</summary>
internal sealed class GuestAssignStage(GuestSpec g, TimeSpan timeout) : GuestStage(StageKinds.GuestAssign, g, timeout)
{
    public override bool ShouldRun(RunContext ctx) => base.ShouldRun(ctx) && Guest.Config.Pci.Count > 0;

    protected override async Task RunGuestAsync(RunContext ctx, GuestSession s, CancellationToken ct)
    {
        // Every device is tried, so the evidence says what Xen did with each, before the first refusal fails the stage.
        (CommandResult R, string Sbdf)? refused = null;
        foreach (var d in Guest.Config.Pci)
        {
            s.Offered.Add(d.Sbdf);
            var r = await Dom0Async(ctx, "assign", $"xl pci-assignable-add {d.Sbdf}", ct).ConfigureAwait(false);
            if (r.ExitCode != 0) refused ??= (r, d.Sbdf);
        }
        if (refused is { } x) Refuse(s, x.R, $"guest {Guest.Name}: {x.Sbdf} cannot be made assignable");
    }
}

/// <summary>
/// guest-create: writes the xl.cfg, <c>xl create -p</c> (paused), attaches <c>xl console</c> on an SSH
/// terminal, then <c>xl unpause</c>: the domain runs only once its console is read, so the
/// transcript starts at the guest kernel's first line.
/// </summary>
internal sealed class GuestCreateStage(GuestSpec g, TimeSpan timeout, IReadOnlyList<CrashPattern> crashPatterns)
    : GuestStage(StageKinds.GuestCreate, g, timeout)
{
    public override bool ShouldRun(RunContext ctx) => base.ShouldRun(ctx) && SessionOf(ctx, Guest)?.Refused is null;

    protected override async Task RunGuestAsync(RunContext ctx, GuestSession s, CancellationToken ct)
    {
        var cfg = Guest.Config.Render();
        ctx.CommandOutputs[$"domU:{Guest.Name}:xl.cfg"] = cfg;
        System.IO.Directory.CreateDirectory(s.Directory);
        await File.WriteAllTextAsync(Path.Combine(s.Directory, "xl.cfg"), cfg, ct).ConfigureAwait(false);
        var b64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(cfg));
        var write = await Dom0Async(ctx, "create", $"echo {b64} | base64 -d > {s.ConfigPath}", ct, evidence: false).ConfigureAwait(false);
        if (write.ExitCode != 0) throw new InfrastructureException($"guest {Guest.Name}: cannot write {s.ConfigPath} in dom0", [write.StdOut + write.StdErr]);

        var create = await Dom0Async(ctx, "create", $"xl create -p {s.ConfigPath}", ct).ConfigureAwait(false);
        // A domain left half made by a failed create is still destroyed by guest-destroy.
        s.Created = create.ExitCode == 0 || (await Dom0Async(ctx, "create", $"xl domid {Guest.Name}", ct).ConfigureAwait(false)).ExitCode == 0;
        Refuse(s, create, $"guest {Guest.Name}: xl create refused");
        s.CreatedAt = ctx.Time.GetTimestamp();

        if (ctx.Shell is not ITerminalHost host) throw new InfrastructureException($"guest {Guest.Name}: dom0's shell offers no terminal for xl console");
        s.Terminal = host.OpenTerminal();
        s.Console = new ConsoleBroker($"guest {Guest.Name}", s.Terminal, ctx.Time);
        s.Transcript = ConsoleTranscript.Start(s.Console, Path.Combine(s.Directory, "console.log"), Path.Combine(s.Directory, "console.raw"));
        s.Crashes = CrashWatch.Start(s.Console, $"guest {Guest.Name} console", crashPatterns);
        s.Console.Start();
        var cursor = s.Console.Cursor();
        // dom0's shell prompt on this terminal reads like the guest's: the cursor goes past a marker
        // that only the shell's output can hold (the echoed input has it split by quotes), printed
        // right before the shell becomes xl console. Everything after it is the guest's.
        var m = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        await s.Console.WriteAsync($"echo FARM''{m}''C; exec xl console {Guest.Name}\n", ct).ConfigureAwait(false);
        await cursor.ExpectAsync(new Regex($"^FARM{m}C$"), ct).ConfigureAwait(false);
        s.Cursor = cursor;
        // Unpause only once xenconsole holds the guest's pty.
        while (true)
        {
            var r = await Dom0Async(ctx, "create", "ps -o args | grep -c '^[^ ]*xenconsole'", ct, evidence: false).ConfigureAwait(false);
            if (r.StdOut.Trim() is var n && n != "0" && n.Length > 0) break;
            await Task.Delay(TimeSpan.FromMilliseconds(100), ctx.Time, ct).ConfigureAwait(false);
        }
        RequireSuccess(await Dom0Async(ctx, "create", $"xl unpause {Guest.Name}", ct).ConfigureAwait(false), $"guest {Guest.Name}: xl unpause failed");
    }
}

/// <summary>guest-prompt: the guest's shell prompt on its console; a guest crash meanwhile fails at once.</summary>
internal sealed class GuestPromptStage(GuestSpec g, TimeSpan timeout) : GuestStage(StageKinds.GuestPrompt, g, timeout)
{
    public override bool ShouldRun(RunContext ctx) => base.ShouldRun(ctx) && SessionOf(ctx, Guest)?.Cursor is not null;

    protected override async Task RunGuestAsync(RunContext ctx, GuestSession s, CancellationToken ct)
    {
        await s.Crashes!.GuardAsync(Name, t => ctx.WatchedAsync(Name, t2 => s.Cursor!.ExpectAsync(Guest.Prompt, t2, partialLine: true), t), ct)
            .ConfigureAwait(false);
        ctx.Metrics[$"guest.{Guest.Name}.create-to-prompt.seconds"] = ctx.Time.GetElapsedTime(s.CreatedAt).TotalSeconds;
        ctx.Metrics[$"guest.{Guest.Name}.prompt.seconds"] = ctx.Time.GetElapsedTime(ctx.PoweredOnAt).TotalSeconds;
    }
}

/// <summary>
/// guest-commands: the guest has no network to the host, so commands go over its console
/// (labgrid's ShellDriver way): the interactive shell is first turned into a plain read-eval
/// loop (no line editor), then each command is framed by begin/end markers that only its output
/// can contain (the echoed input has them split by quotes), the end marker carrying the exit code.
/// </summary>
internal sealed partial class GuestCommandsStage(GuestSpec g, TimeSpan timeout) : GuestStage(StageKinds.GuestCommands, g, timeout)
{
    public override bool ShouldRun(RunContext ctx) => base.ShouldRun(ctx) && Guest.Commands.Count > 0 && SessionOf(ctx, Guest)?.Cursor is not null;

    protected override async Task RunGuestAsync(RunContext ctx, GuestSession s, CancellationToken ct)
    {
        var evidence = Path.Combine(s.Directory, "evidence");
        System.IO.Directory.CreateDirectory(evidence);
        var index = new List<CommandIndexEntry>();
        await s.Crashes!.GuardAsync(Name, async t =>
        {
            if (!s.ShellLoop)
            {
                await Framed(s, "stty -echo 2>/dev/null; while read -r farm_l; do eval \"$farm_l\"; done", t, startLoop: true).ConfigureAwait(false);
                s.ShellLoop = true;
            }
            foreach (var command in Guest.Commands)
            {
                long t0 = ctx.Time.GetTimestamp();
                var (output, exit) = await Framed(s, command, t).ConfigureAwait(false);
                var slug = CommandsStage.Slug(command);
                await File.WriteAllTextAsync(Path.Combine(evidence, slug + ".txt"), output, t).ConfigureAwait(false);
                ctx.CommandOutputs[$"domU:{Guest.Name}:{command}"] = output;
                index.Add(new CommandIndexEntry(command, slug + ".txt", exit, ctx.Time.GetElapsedTime(t0).TotalSeconds));
            }
        }, ct).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(evidence, "commands.json"),
            CommandIndexEntry.ToJson(index), new UTF8Encoding(false), ct).ConfigureAwait(false);
        // The NIC probe's far end, when the board's network has one (QEMU: Boards.Qemu.NicPeer), logs beside the
        // board's console: that is the probe's host end. Read bounded, as evidence of this guest's transfer.
        var peer = Path.Combine(ctx.RunDirectory, Farm.Boards.Qemu.NicPeer.LogFile);
        if (File.Exists(peer) && new FileInfo(peer).Length <= 1 << 20)
            ctx.CommandOutputs[$"dom0:{Guest.Name}:nic-peer:{Farm.Checks.Guest.NicTcpMarker} host"] = await File.ReadAllTextAsync(peer, ct).ConfigureAwait(false);
    }

    static async Task<(string Output, int Exit)> Framed(GuestSession s, string command, CancellationToken ct, bool startLoop = false)
    {
        var m = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        var begin = new Regex($"^FARM{m}B$");
        var end = new Regex($"^FARM{m}E (\\d+)$");
        // The loop is typed into the interactive shell; its markers then come from the loop's first command.
        var line = startLoop
            ? $"{command}\necho FARM''{m}''B; echo FARM''{m}''E 0\n"
            : $"echo FARM''{m}''B; {command}; echo FARM''{m}''E $?\n";
        await s.Console!.WriteAsync(line, ct).ConfigureAwait(false);
        var b = await s.Cursor!.ExpectAsync(begin, ct).ConfigureAwait(false);
        var e = await s.Cursor.ExpectAsync(end, ct).ConfigureAwait(false);
        var lines = s.Console.Lines;
        var output = string.Join("\n", lines.Where(l => l.Sequence > b.LineIndex && l.Sequence < e.LineIndex).Select(l => l.Text));
        return (output.Length == 0 ? "" : output + "\n", int.Parse(e.Match.Groups[1].Value, CultureInfo.InvariantCulture));
    }
}

/// <summary>guest-hotplug: <c>xl pci-list</c>, then <c>pci-detach</c> and <c>pci-attach</c> for each hotplug device, then <c>pci-list</c> again.</summary>
internal sealed class GuestHotplugStage(GuestSpec g, TimeSpan timeout) : GuestStage(StageKinds.GuestHotplug, g, timeout)
{
    public override bool ShouldRun(RunContext ctx) => base.ShouldRun(ctx) && Guest.Hotplug.Count > 0 && SessionOf(ctx, Guest)?.Cursor is not null;

    protected override async Task RunGuestAsync(RunContext ctx, GuestSession s, CancellationToken ct)
    {
        await Dom0Async(ctx, "pci-list-before", $"xl pci-list {Guest.Name}", ct).ConfigureAwait(false);
        foreach (var d in Guest.Hotplug)
        {
            RequireSuccess(await Dom0Async(ctx, "hotplug-detach", $"xl pci-detach {Guest.Name} {d}", ct).ConfigureAwait(false), $"guest {Guest.Name}: detach of {d}");
            RequireSuccess(await Dom0Async(ctx, "hotplug-attach", $"xl pci-attach {Guest.Name} {d}", ct).ConfigureAwait(false), $"guest {Guest.Name}: attach of {d}");
        }
        await Dom0Async(ctx, "pci-list-after", $"xl pci-list {Guest.Name}", ct).ConfigureAwait(false);
    }
}

/// <summary>guest-destroy: <c>xl destroy</c>, also after a failure; the console transcript is closed and kept as evidence.</summary>
internal sealed class GuestDestroyStage(GuestSpec g, TimeSpan timeout) : GuestStage(StageKinds.GuestDestroy, g, timeout)
{
    public override bool AlwaysRun => true;

    public override bool ShouldRun(RunContext ctx) => ctx.Shell is not null && SessionOf(ctx, Guest) is { Created: true };

    protected override async Task RunGuestAsync(RunContext ctx, GuestSession s, CancellationToken ct)
    {
        CommandResult? r = null;
        try
        {
            long t0 = ctx.Time.GetTimestamp();
            r = await Dom0Async(ctx, "destroy", $"xl destroy {Guest.Name}", ct).ConfigureAwait(false);
            ctx.Metrics[$"guest.{Guest.Name}.destroy.seconds"] = ctx.Time.GetElapsedTime(t0).TotalSeconds;
        }
        finally
        {
            await CloseConsoleAsync(ctx, s).ConfigureAwait(false);
            s.Created = r?.ExitCode != 0 && s.Created;
        }
        RequireSuccess(r!, $"guest {Guest.Name}: xl destroy failed");
    }

    /// <summary>Ends the xl console terminal and keeps every line it carried.</summary>
    public static async Task CloseConsoleAsync(RunContext ctx, GuestSession s)
    {
        if (s.Console is not { } console) return;
        s.Terminal?.Dispose();          // xl console exits with the domain; closing ends the read loop at once
        await console.Completion.ConfigureAwait(false);
        if (s.Crashes is { } w) await w.DisposeAsync().ConfigureAwait(false);
        if (s.Transcript is { } tr) await tr.DisposeAsync().ConfigureAwait(false);
        ctx.CommandOutputs[$"domU:{s.Spec.Name}:console"] = string.Join("\n", console.Lines.Select(l => l.Text));
        await console.DisposeAsync().ConfigureAwait(false);
        s.Console = null;
        s.Cursor = null;
    }
}

/// <summary>
/// guest-deassign: <c>xl pci-assignable-remove -r</c> for each device offered to pciback, then dom0
/// uses the device again: its driver rebinds, and an NVMe passes a DMA round trip (sha256).
/// </summary>
internal sealed class GuestDeassignStage(GuestSpec g, TimeSpan timeout) : GuestStage(StageKinds.GuestDeassign, g, timeout)
{
    public override bool AlwaysRun => true;

    public override bool ShouldRun(RunContext ctx) => ctx.Shell is not null && SessionOf(ctx, Guest) is { Offered.Count: > 0 };

    protected override async Task RunGuestAsync(RunContext ctx, GuestSession s, CancellationToken ct)
    {
        CommandResult? refused = null;
        foreach (var d in s.Offered)
        {
            var r = await Dom0Async(ctx, "deassign", $"xl pci-assignable-remove -r {d}", ct).ConfigureAwait(false);
            if (r.ExitCode != 0) refused ??= r;
            // Also after a refusal: what dom0 has now (still pciback, or its own driver) is the evidence.
            await Dom0Async(ctx, "after-deassign", ReuseProbe(d), ct).ConfigureAwait(false);
        }
        if (refused is not null) Refuse(s, refused, $"guest {Guest.Name}: device not returned to dom0");
    }

    /// <summary>dom0 takes the device back: wait for its driver, show it, and for an NVMe write, read back and compare 4 MiB.</summary>
    public static string ReuseProbe(string sbdf) =>
        $"sh -c 'd=/sys/bus/pci/devices/{sbdf}; echo FARM-PROBE reuse {sbdf}; i=0; while [ ! -e $d/driver ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; " +
        $"echo \"driver=$(basename \"$(readlink $d/driver)\")\"; lspci -k -s {sbdf}; case $(cat $d/class) in 0x0108*) " +
        "dev=; i=0; while [ -z \"$dev\" ] && [ $i -lt 100 ]; do for b in /sys/block/nvme*; do readlink -f $b | grep -q " + sbdf + " && dev=/dev/${b##*/}; done; [ -n \"$dev\" ] || sleep 0.1; i=$((i+1)); done; " +
        // No block device (the NVMe still held by pciback): say so, never dd with an empty name (it would read the SSH channel's stdin and hang).
        "if [ -z \"$dev\" ]; then echo \"no block device for " + sbdf + "\"; else " +
        "echo FARM-PROBE nvme-dma $dev; dd if=/dev/urandom of=/tmp/farm-re-w bs=1M count=4 2>/dev/null; dd if=/tmp/farm-re-w of=$dev bs=1M conv=fsync 2>&1 | tail -1; " +
        "echo 3 > /proc/sys/vm/drop_caches; dd if=$dev of=/tmp/farm-re-r bs=1M count=4 2>&1 | tail -1; sha256sum /tmp/farm-re-w /tmp/farm-re-r; fi;; esac' < /dev/null";
}
