using Farm.Build;
using Spectre.Console;

namespace Farm.Tests.Build;

/// <summary>farm build's progress line survives whatever a build prints.</summary>
public class BuildProgressTests
{
    /// <summary>Lines a real Xen build log has (blank lines between make's stages, kconfig's
    /// whitespace, gcc's colour, a progress bar redrawn with \r), and worse.</summary>
    static readonly string[] BuildLog =
    [
        "make[1]: Entering directory '/build/xen'",
        "",
        "   ",
        "\t",
        "\r",
        "\r\n",
        "\u001b[01m\u001b[Kxen/arch/arm/vpci.c:42:\u001b[m\u001b[K \u001b[01;35m\u001b[Kwarning: \u001b[m\u001b[Kunused",
        "\u001b[0m",
        " 10% [##        ]\r 55% [#####     ]\r100% [##########]",
        "\u0000\u0007\u0008",
        "\u200b",
        "[ CC ] xen/common/sched/core.o",
        new string('x', 300),
        "FARM-XEN-VERSION 4.17.5",
    ];

    [Test]
    public void EveryBuildLineIsShownAsVisiblePlainTextOrLeavesTheStatusAlone()
    {
        Assert.That(BuildProgress.Of(""), Is.Null);
        Assert.That(BuildProgress.Of("   "), Is.Null);
        Assert.That(BuildProgress.Of("\t\r"), Is.Null);
        Assert.That(BuildProgress.Of("\u001b[0m"), Is.Null, "only a colour reset");
        Assert.That(BuildProgress.Of("\u0000\u0007"), Is.Null);
        Assert.That(BuildProgress.Of("\u200b"), Is.Null, "a zero-width space is nothing to see");
        Assert.That(BuildProgress.Of("\u001b[01;35m\u001b[Kwarning: \u001b[m\u001b[Kunused"), Is.EqualTo("warning: unused"));
        Assert.That(BuildProgress.Of(" 10% [##  ]\r100% [####]"), Is.EqualTo("100% [####]"), "what the terminal shows after the redraw");
        Assert.That(BuildProgress.Of("a\tb"), Is.EqualTo("a b"));
        Assert.That(BuildProgress.Of(new string('x', 300)), Has.Length.EqualTo(BuildProgress.Width));
        Assert.That(BuildProgress.Of(new string('x', 99) + "\U0001F600"), Is.EqualTo(new string('x', 99)), "a surrogate pair is never split");
        Assert.That(BuildProgress.Of("  [ CC ] xen/common/sched/core.o  "), Is.EqualTo("[ CC ] xen/common/sched/core.o"));
    }

    [Test]
    public async Task TheRealStatusDisplayTakesAWholeBuildLog()
    {
        var console = Console();
        var shown = new List<string>();
        await console.Status().StartAsync("building Xen", status =>
        {
            foreach (var line in BuildLog)
                if (BuildProgress.Of(line) is { } text)
                {
                    status.Status(Markup.Escape(text));
                    shown.Add(text);
                }
            return Task.CompletedTask;
        });
        Assert.That(shown, Does.Contain("[ CC ] xen/common/sched/core.o").And.Contain("FARM-XEN-VERSION 4.17.5").And.Contain("100% [##########]"));
        Assert.That(shown, Has.All.Not.Contain('\u001b'));
    }

    [Test]
    public async Task TheUnfilteredLineIsWhatCrashedFarmBuild()
    {
        // Proves the test above exercises the failure: Spectre refuses a blank status.
        var console = Console();
        await Assert.ThrowsAsync<InvalidOperationException>(() => console.Status().StartAsync("building Xen", status =>
        {
            status.Status(Markup.Escape(""));
            return Task.CompletedTask;
        }));
    }

    static IAnsiConsole Console() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Ansi = AnsiSupport.Yes,
        Interactive = InteractionSupport.Yes,
        Out = new AnsiConsoleOutput(new StringWriter()),
    });
}
