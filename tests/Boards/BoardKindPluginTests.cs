using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using Farm.Boards;
using Farm.Boards.Spec;
using Farm.Jobs;
using Farm.Jobs.Spec;
using Farm.Serial;

namespace Farm.Tests.Boards;

/// <summary>
/// The board kind extension point is real: a kind written here, in the test project, is
/// registered, named by a lab file (its own keys, validated at their lines), and runs a job
/// through Farm's own pipeline (lab file → run request → JobRunner) to a verdict, with no edit to farm/.
/// </summary>
public class BoardKindPluginTests
{
    /// <summary>What a new kind's folder holds: its record (the facts and the factory's input)...</summary>
    sealed record MemoryBoardSpec(IReadOnlyList<string> Boot, int Slot) : BoardKindSpec
    {
        public override string Kind => "memory";
        public override bool Physical => true;
        public override string PowerSummary => $"memory slot {Slot}";
        public override string ConsoleSummary => "memory console";
        internal override IBoardConfig Config(BoardSpec board) => new MemoryBoardConfig(board.Name, board.Mode, Boot, Slot);
    }

    /// <summary>...its sections and entry: <c>memory:</c> (board types and boards) and <c>slot:</c> (boards only)...</summary>
    static class MemoryKind
    {
        public static readonly BoardKindSection<IReadOnlyList<string>> Memory = new("memory",
            m => m.Mapping("memory", ["boot"]) is { } b ? b.TextList("boot", "line") : null);

        public static readonly BoardKindSection<SlotNumber> Slot = new("slot", m => m.Integer("slot", min: 1) is { } n ? new SlotNumber(n) : null, boardOnly: true);

        public static readonly BoardKindEntry Entry = new("memory", "memory-board", [Memory, Slot], b =>
        {
            var before = b.Errors;
            // Written but wrong has been reported where it is wrong: only say what is absent.
            if (!b.Written(Memory)) b.Problem("memory", "a memory board needs memory: {boot: [lines it prints]}");
            if (!b.Written(Slot)) b.Problem("slot", "a memory board needs slot: N");
            b.RejectForeign();
            return b.Errors > before || b.Section(Memory) is not { } boot || b.Section(Slot) is not { } slot ? null : new MemoryBoardSpec(boot, slot.Number);
        });
    }

    sealed record SlotNumber(int Number);

    /// <summary>...and its factory: the board composed from a fake power switch and a console fed by it.</summary>
    sealed record MemoryBoardConfig(string Name, BoardMode Mode, IReadOnlyList<string> Boot, int Slot) : IBoardConfig
    {
        public Board Create(BoardContext context)
        {
            var bench = new MemoryBench(Name, Boot, context.Time);
            return new Board(Name, bench, bench.Console, bench, null, bench);
        }
    }

    /// <summary>Power that "boots" the board by printing its lines on its UART; deploy only remembers what it was given.</summary>
    sealed class MemoryBench : IPowerSwitch, IDeployer, IAsyncDisposable
    {
        readonly Pipe _uart = new();
        readonly IReadOnlyList<string> _boot;
        PowerState _state = PowerState.Off;

        public MemoryBench(string name, IReadOnlyList<string> boot, TimeProvider time)
        {
            _boot = boot;
            Console = new ConsoleBroker(name, new Wire(_uart.Reader.AsStream(), Stream.Null), time);
        }

        public ConsoleBroker Console { get; }

        public DeployRequest? Deployed { get; private set; }

        public async Task SetAsync(PowerState state, CancellationToken ct)
        {
            _state = state;
            if (state != PowerState.On) return;
            Console.Start();
            await _uart.Writer.WriteAsync(Encoding.UTF8.GetBytes(string.Join("\r\n", _boot)), ct);
        }

        public Task<PowerState> GetAsync(CancellationToken ct) => Task.FromResult(_state);

        public Task DeployAsync(DeployRequest request, CancellationToken ct)
        {
            Deployed = request;
            return Task.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            await _uart.Writer.CompleteAsync();
            await Console.DisposeAsync();
        }
    }

    sealed class Wire(Stream input, Stream output) : Stream
    {
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => output.Flush();
        public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => input.ReadAsync(buffer, ct);
        public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) => output.WriteAsync(buffer, ct);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    static string Lab(string memory = "{boot: ['Linux version 6.1.0-memory (farm@test)', 'root@memory:~# ']}", string slot = "3") => $$"""
        board-types:
          memory-native:
            kind: memory
            mode: native
            linux-cmdline: console=ttyAMA0
            memory: {{memory}}
        boards:
          - name: mem-1
            type: memory-native
            tags: [memory]
            slot: {{slot}}
        """;

    [OneTimeSetUp]
    public void Register() => BoardKinds.Register(MemoryKind.Entry);

    [Test]
    public void ALabFileNamesTheKindAndItsKeysAreReadByIt()
    {
        var board = LabFile.Parse(Lab(), "lab/memory.yaml").Find("mem-1")!;
        Assert.That(board.Kind, Is.EqualTo("memory"));
        Assert.That(board.Hardware, Is.EqualTo(new MemoryBoardSpec(["Linux version 6.1.0-memory (farm@test)", "root@memory:~# "], 3)).Using<MemoryBoardSpec>((a, b) =>
            a.Boot.SequenceEqual(b.Boot) && a.Slot == b.Slot));
        Assert.That((board.Hardware.PowerSummary, board.SharedPower, board.Hardware.Physical), Is.EqualTo(("memory slot 3", "memory slot 3", true)));
    }

    [Test]
    public void ItsMistakesAreReportedAtTheirLinesAndOtherKindsKeysAreNotItsOwn()
    {
        var e = Assert.Throws<ConfigurationException>(() => LabFile.Parse(Lab(memory: "{bot: ['x']}", slot: "0"), "lab/memory.yaml"))!;
        Assert.That(e.Evidence, Is.EqualTo(new[]
        {
            "lab/memory.yaml:6:14: board-types.memory-native.memory.bot: unknown key (did you mean \"boot\"?); expected one of: boot",
            "lab/memory.yaml:11:11: boards[0].slot: 0 is too small (at least 1)",
        }));
        var missing = Assert.Throws<ConfigurationException>(() => LabFile.Parse(Lab().Replace("\n    slot: 3", ""), "lab/memory.yaml"))!;
        Assert.That(missing.Evidence, Is.EqualTo(new[] { "lab/memory.yaml:8:5: boards[0].slot: a memory board needs slot: N (board mem-1, type memory-native)" }));
        var foreign = Assert.Throws<ConfigurationException>(() => LabFile.Parse(Lab() + "\n    qemu: {machine: virt}", "lab/memory.yaml"))!;
        Assert.That(foreign.Evidence, Is.EqualTo(new[]
        {
            "lab/memory.yaml:8:5: boards[0].qemu: set, but kind is memory: QEMU settings apply to kind qemu only (set on the board) (board mem-1, type memory-native)",
        }));
        var unknown = Assert.Throws<ConfigurationException>(() => LabFile.Parse(Lab().Replace("kind: memory", "kind: memroy"), "lab/memory.yaml"))!;
        Assert.That(unknown.Evidence, Has.Some.Contains("kind: unknown value \"memroy\" (did you mean \"memory\"?); expected one of: qemu, uboot, memory"));
    }

    [Test]
    public async Task AJobRunsOnItThroughJobRunnerToAVerdict()
    {
        var dir = Directory.CreateTempSubdirectory("farm-kind-").FullName;
        try
        {
            var artifacts = Path.Combine(dir, "artifacts");
            Directory.CreateDirectory(artifacts);
            var manifest = new StringBuilder("suite=memory\n");
            foreach (var name in new[] { "vmlinuz", "initrd.cpio.gz" })
            {
                var bytes = Encoding.UTF8.GetBytes($"contents of {name}\n");
                await File.WriteAllBytesAsync(Path.Combine(artifacts, name), bytes);
                manifest.Append($"{Convert.ToHexStringLower(SHA256.HashData(bytes))}  {name}\n");
            }
            await File.WriteAllTextAsync(Path.Combine(artifacts, "MANIFEST"), manifest.ToString());
            var job = JobFile.Parse($$"""
                name: memory-boot
                tags: [memory]
                artifacts: {{artifacts}}
                timeouts: {power-on: 5s, dom0-prompt: 10s, job: 1m}
                expect: {dom0-prompt: 'root@memory:~# '}
                """, "jobs/memory-boot.yaml");

            var lab = LabFile.Parse(Lab(), "lab/memory.yaml");
            var request = RunRequests.Create(job, lab.Resolve(job), dir, Path.Combine(dir, "out"));
            Board? made = null;
            var runner = new JobRunner(TimeProvider.System, []);
            runner.BoardCreated += b => made = b;
            var r = await runner.RunAsync(request, CancellationToken.None);

            Assert.That(r.Verdict, Is.EqualTo(Verdict.Pass), r.Message);
            Assert.That(r.Stages.Select(s => s.Name), Is.EqualTo(new[] { "deploy", "power-on", "dom0-prompt", "power-off" }));
            Assert.That(made!.Name, Is.EqualTo("mem-1"));
            Assert.That(((MemoryBench)made.Lifetime).Deployed!.Artifacts.Sha256.Keys, Is.EquivalentTo(new[] { "vmlinuz", "initrd.cpio.gz" }));
            Assert.That(r.Provenance.LinuxVersion, Is.EqualTo("6.1.0-memory"), "the console it printed is the run's console");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void TheRegistryAndTheLabFileKnowNoKind()
    {
        // The built-in kinds register themselves (Boards.Kinds); Boards.Spec reads lab files without naming one.
        var edges = LayerGraph.Of(typeof(LabFile).Assembly, LayerGraph.Namespace);
        Assert.That(edges.Keys.Where(e => e.From == "Boards.Spec" && e.To is "Boards.Qemu" or "Boards.Physical")
            .Select(e => $"{e.From} -> {e.To}: {string.Join(", ", edges[e].Take(4))}"), Is.Empty);
        Assert.That(edges.Keys.Where(e => e.To == "Boards.Kinds"), Is.Empty, "nothing calls the built-ins' registrar");
    }

    [Test]
    public void TwoKindsCannotClaimOneNameOrOneKey()
    {
        Assert.Throws<ArgumentException>(() => BoardKinds.Register(MemoryKind.Entry with { Sections = [] }));
        Assert.Throws<ArgumentException>(() => BoardKinds.Register(MemoryKind.Entry with { Name = "memory-2" }));
    }
}
