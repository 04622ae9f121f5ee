using System.IO.Pipelines;
using System.Text;
using System.Text.RegularExpressions;
using Farm.Jobs;
using Farm.Jobs.Spec;
using Farm.Jobs.Stages;
using Farm.Serial;
using Farm.Tests.Serial;
using Microsoft.Extensions.Time.Testing;

namespace Farm.Tests.Guests;

/// <summary>guest-commands over a simulated guest console: a busybox-like shell that echoes what it reads, as a tty does.</summary>
public partial class GuestConsoleProtocolTests
{
    [GeneratedRegex(@"^echo FARM''(?<m>[0-9a-f]{8})''B; (?<cmd>.*); echo FARM''\k<m>''E \$\?$")]
    private static partial Regex Framed();

    [GeneratedRegex(@"^echo FARM''(?<m>[0-9a-f]{8})''B; echo FARM''\k<m>''E 0$")]
    private static partial Regex LoopProbe();

    /// <summary>The guest: echoes every line it gets (the tty), then answers each framed command.</summary>
    static async Task GuestAsync(Stream fromFarm, Stream toFarm, Func<string, (string Output, int Exit)> run)
    {
        using var reader = new StreamReader(fromFarm);
        async Task Say(string text) { await toFarm.WriteAsync(Encoding.UTF8.GetBytes(text.Replace("\n", "\r\n"))); await toFarm.FlushAsync(); }
        while (await reader.ReadLineAsync() is { } line)
        {
            await Say(line + "\n");
            if (LoopProbe().Match(line) is { Success: true } p) await Say($"FARM{p.Groups["m"].Value}B\nFARM{p.Groups["m"].Value}E 0\n");
            else if (Framed().Match(line) is { Success: true } f)
            {
                var (output, exit) = run(f.Groups["cmd"].Value);
                await Say($"FARM{f.Groups["m"].Value}B\n{output}FARM{f.Groups["m"].Value}E {exit}\n");
            }
        }
    }

    static GuestSpec Guest(params string[] commands) => new()
    {
        Name = "g1",
        Config = new Farm.Guests.XlConfig { Name = "g1", Kernel = "/mnt/artifacts/vmlinuz" },
        Prompt = new Regex("root@farm:~# "),
        Commands = commands,
    };

    readonly List<string> _dirs = [];

    [TearDown]
    public void RemoveRunDirectories()
    {
        foreach (var d in _dirs) Directory.Delete(d, recursive: true);
        _dirs.Clear();
    }

    async Task<(RunContext ctx, GuestSession s, Task guest, ConsoleBroker broker)> StartAsync(GuestSpec g, Func<string, (string, int)> run)
    {
        var time = new FakeTimeProvider();
        var toFarm = new Pipe();
        var fromFarm = new Pipe();
        var broker = new ConsoleBroker("guest g1", new DuplexStream(toFarm.Reader.AsStream(), fromFarm.Writer.AsStream()), time);
        broker.Start();
        var guest = Task.Run(() => GuestAsync(fromFarm.Reader.AsStream(), toFarm.Writer.AsStream(), run));
        var dir = Directory.CreateTempSubdirectory("farm-guest").FullName;
        _dirs.Add(dir);
        var ctx = new RunContext("r1", dir, time);
        var s = new GuestSession(g, Path.Combine(dir, "guests", "g1"))
        {
            Console = broker, Cursor = broker.Cursor(), Crashes = CrashWatch.Start(broker, "guest g1 console", CrashPatterns.Defaults),
        };
        ctx.Guests[g.Name] = s;
        await Task.CompletedTask;
        return (ctx, s, guest, broker);
    }

    [Test]
    public async Task EachCommandsOutputIsWhatLiesBetweenItsMarkersWithItsExitCode()
    {
        var g = Guest("cat /sys/hypervisor/type", "lspci -vvv", "false");
        var (ctx, s, _, broker) = await StartAsync(g, cmd => cmd switch
        {
            "cat /sys/hypervisor/type" => ("xen\n", 0),
            "lspci -vvv" => ("00:00.0 Host bridge: Red Hat, Inc. QEMU PCIe Host bridge\n\tControl: I/O- Mem+\n", 0),
            _ => ("", 1),
        });
        await new GuestCommandsStage(g, TimeSpan.FromSeconds(60)).RunAsync(ctx, CancellationToken.None);

        Assert.That(ctx.CommandOutputs["domU:g1:cat /sys/hypervisor/type"], Is.EqualTo("xen\n"), "no echoed input, no markers");
        Assert.That(ctx.CommandOutputs["domU:g1:lspci -vvv"], Is.EqualTo("00:00.0 Host bridge: Red Hat, Inc. QEMU PCIe Host bridge\n\tControl: I/O- Mem+\n"));
        Assert.That(ctx.CommandOutputs["domU:g1:false"], Is.EqualTo(""));
        var index = File.ReadAllText(Path.Combine(s.Directory, "evidence", "commands.json"));
        Assert.That(index, Does.Contain("\"exitCode\": 1"));
        Assert.That(File.ReadAllText(Path.Combine(s.Directory, "evidence", "cat-sys-hypervisor-type.txt")), Is.EqualTo("xen\n"));
        Assert.That(ctx.CommandOutputs["domU:g1:outcome"].Split('\n'), Has.Some.EqualTo("guest-commands passed").And.Some.EqualTo("guest-create skipped"));
        await s.Crashes!.DisposeAsync();
        await broker.DisposeAsync();
    }

    [Test]
    public async Task AGuestOopsDuringACommandFailsTheStageWithTheGuestConsoleTail()
    {
        var g = Guest("cat /dev/nvme0n1");
        var (ctx, s, _, broker) = await StartAsync(g, _ =>
            ("[   12.000000] Unable to handle kernel paging request at virtual address ffff800008000000\n[   12.000001] Internal error: Oops: 96000007 [#1] SMP\n", 0));
        // The end marker never comes after an oops in real life; here it does, so the watch must be quicker than nothing:
        // either way the verdict is the crash's, because the guard checks the watch before it returns.
        var e = (await Assert.ThrowsAsync<CheckFailedException>(async () =>
        {
            await new GuestCommandsStage(g, TimeSpan.FromSeconds(60)).RunAsync(ctx, CancellationToken.None);
            await s.Crashes!.GuardAsync("guest-commands.g1", _ => Task.CompletedTask, CancellationToken.None);
        }))!;
        Assert.That(e.Message, Does.Contain("guest g1 console crashed").And.Contain("Unable to handle kernel paging request"));
        Assert.That(e.Evidence, Has.Some.Contains("Internal error: Oops").Or.Some.Contains("Unable to handle kernel"));
        await s.Crashes!.DisposeAsync();
        await broker.DisposeAsync();
    }
}
