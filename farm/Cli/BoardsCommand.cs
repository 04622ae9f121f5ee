using Farm.Boards.Spec;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary><c>farm boards [--lab DIR]</c>: the lab's boards, what they are and where their power and console are.</summary>
public sealed class BoardsCommand : AsyncCommand<LabSettings>
{
    public override Task<int> ExecuteAsync(CommandContext context, LabSettings s, CancellationToken ct)
    {
        var lab = LabFile.Load(s.Lab);
        var table = new Table().AddColumns("board", "type", "power", "console", "expected pci", "tags");
        foreach (var b in lab.Boards)
        {
            var (power, console) = b.Kind == BoardKind.Qemu
                ? ("QMP query-status", "QEMU serial socket")
                : ("(not configured)", "(not configured)");
            table.AddRow(Markup.Escape(b.Name),
                Markup.Escape($"{b.TypeName} ({b.Kind.ToString().ToLowerInvariant()}, {b.Mode.ToString().ToLowerInvariant()})\n{b.SourcePath}:{b.Line}"),
                power, console, Markup.Escape(string.Join("\n", b.ExpectedPci)), Markup.Escape(string.Join(", ", b.Tags)));
        }
        AnsiConsole.Write(table);
        return Task.FromResult(0);
    }
}
