using System.ComponentModel;
using Farm.Build;
using Farm.Deploy;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm build xen [--source debian:SUITE|DIR] [--config FRAGMENT] [--patch FILE]... [--artifacts-from SET] [--tools]</c>:
/// cross-builds Xen for arm64 in a container (see <see cref="XenBuild"/>), with --tools its toolstack
/// too (<see cref="XenTools"/>), and, with a base artifact set, makes an artifact set that boots it. Prints the build's directory, whether it was a cache
/// hit, and what it enabled for PCI. Exit codes as for runs: fail (the build broke), error (bad
/// input, no engine, a dropped Kconfig option), incomplete (the mirror or engine failed).
/// </summary>
internal sealed class BuildCommand : AsyncCommand<BuildCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<WHAT>")]
        [Description("What to build: xen.")]
        public string What { get; init; } = "";

        [CommandOption("--source <SOURCE>")]
        [Description("debian:SUITE (Debian's Xen source, apt-get source; default debian:bookworm) or a Xen source directory.")]
        public string Source { get; init; } = "debian:bookworm";

        [CommandOption("--ref <REF>")]
        [Description("With --source DIR (a git checkout): build this commit, branch or tag (exported with git archive).")]
        public string? Ref { get; init; }

        [CommandOption("--config <FRAGMENT>")]
        [Description("Kconfig fragment merged with olddefconfig (default ci/xen/xen-vpci.config).")]
        public string Config { get; init; } = "ci/xen/xen-vpci.config";

        [CommandOption("--patch <FILE>")]
        [Description("A patch applied with patch -p1 before configuring (repeatable; applied in file-name order).")]
        public string[] Patches { get; init; } = [];

        [CommandOption("--artifacts-from <SET>")]
        [Description("Base artifact set (name or path) whose kernel and initramfs boot this Xen; the result is <build>/artifacts.")]
        public string? ArtifactsFrom { get; init; }

        [CommandOption("--name <NAME>")]
        [Description("Also name the resulting artifact set: .cache/artifacts/NAME links to it (jobs say `artifacts: NAME`).")]
        public string? Name { get; init; }

        [CommandOption("--image <IMAGE>")]
        [Description($"Toolchain image (default {XenBuild.DefaultImage}, made by ci/setup-docker.sh).")]
        public string Image { get; init; } = XenBuild.DefaultImage;

        [CommandOption("--tools")]
        [Description("Also cross-build the arm64 toolstack (xl, libxl, libxenctrl/libxenguest, xenstored, xenconsoled) from the same tree and patches, and put it into the artifact set's dom0 initramfs in place of Debian's.")]
        public bool Tools { get; init; }

        [CommandOption("--tools-image <IMAGE>")]
        [Description($"Toolchain image for --tools (default {XenTools.DefaultImage}, made by ci/setup-docker.sh).")]
        public string ToolsImage { get; init; } = XenTools.DefaultImage;

        [CommandOption("--engine <DOCKER_HOST>")]
        [Description("Container engine (default: $DOCKER_HOST, /var/run/docker.sock, or Farm's /run/farm-docker.sock).")]
        public string? Engine { get; init; }

        [CommandOption("--cache <DIR>")]
        [Description("Where sources and builds are kept (default .cache under the checkout).")]
        public string Cache { get; init; } = ".cache";

        public override ValidationResult Validate() =>
            What != "xen" ? ValidationResult.Error($"farm build {What}: only \"xen\" can be built")
            : Ref is not null && Source.StartsWith("debian:", StringComparison.Ordinal) ? ValidationResult.Error("--ref needs --source DIR (a git checkout)")
            : Name is not null && ArtifactsFrom is null ? ValidationResult.Error("--name needs --artifacts-from (a name is given to an artifact set)")
            : Name is not null && (Name.Contains('/') || Name.StartsWith('.')) ? ValidationResult.Error($"--name {Name}: a plain name, e.g. xen-vpci")
            : !Tools && ToolsImage != XenTools.DefaultImage ? ValidationResult.Error("--tools-image needs --tools (the image the toolstack is built in)")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var host = DockerEngine.Locate(s.Engine);
        using var docker = await DockerEngine.ConnectAsync(host, ct);
        string source, description;
        string? commit = null;
        if (s.Source.StartsWith("debian:", StringComparison.Ordinal))
        {
            var suite = s.Source["debian:".Length..];
            AnsiConsole.MarkupLineInterpolated($"source: Debian {suite}'s xen (apt-get source)");
            source = await DebianSource.FetchAsync(suite, s.Cache, ct);
            description = $"debian:{suite} {Path.GetFileName(source)}";
        }
        else if (s.Ref is not null)
        {
            (source, commit) = await GitSource.ExportAsync(Path.GetFullPath(s.Source), s.Ref, s.Cache, ct);
            description = $"git:{Path.GetFullPath(s.Source)}@{s.Ref}";
        }
        else
        {
            source = Path.GetFullPath(s.Source);
            description = "dir:" + source;
        }
        var baseSet = s.ArtifactsFrom is null ? null : ArtifactStore.Locate(s.ArtifactsFrom, Directory.GetCurrentDirectory());
        var request = new XenBuildRequest(source, description, Path.GetFullPath(s.Config), s.Patches.Select(Path.GetFullPath).ToList(), s.Image,
            Path.GetFullPath(Path.Combine(s.Cache, "xen-builds")), baseSet) { Commit = commit, ToolsImage = s.Tools ? s.ToolsImage : null };

        var log = new List<string>();
        XenBuildResult result = null!;
        await AnsiConsole.Status().StartAsync($"building Xen in {s.Image} on {host}", async status =>
        {
            result = await XenBuild.RunAsync(docker, request, l =>
            {
                lock (log) log.Add(l);
                if (BuildProgress.Of(l) is { } shown) status.Status(Markup.Escape(shown));
                if (l.StartsWith("FARM", StringComparison.Ordinal)) AnsiConsole.MarkupLineInterpolated($"[grey]{l}[/]");
            }, FarmContext.Of(context).Time, ct);
        });
        if (!result.CacheHit) await File.WriteAllLinesAsync(Path.Combine(result.Directory, "build.log"), log, ct);

        var p = result.Provenance;
        var table = new Table().AddColumns("", "").HideHeaders();
        table.AddRow("build", Markup.Escape($"{result.Directory} ({(result.CacheHit ? "cache hit" : $"built in {p.Seconds:0} s")})"));
        table.AddRow("source", Markup.Escape(p.Source));
        table.AddRow("version", Markup.Escape(p.Version + (p.Commit is null ? "" : $" @ {p.Commit}")));
        table.AddRow("config", Markup.Escape($"{Path.Combine(result.Directory, "xen.config")} (sha256 {p.ConfigSha256[..16]})"));
        table.AddRow("PCI options", Markup.Escape(string.Join(" ", p.PciOptions)));
        if (p.Patches.Count > 0) table.AddRow("patches", Markup.Escape(string.Join(", ", p.Patches)));
        table.AddRow("toolchain", Markup.Escape($"{p.Image} {p.ImageId[..19]}"));
        if (result.Tools is { } tools)
        {
            var t = tools.Provenance;
            table.AddRow("toolstack", Markup.Escape($"{tools.Directory} ({(tools.CacheHit ? "cache hit" : $"built in {t.Seconds:0} s")}), {t.Version}, in {t.Image} {t.ImageId[..Math.Min(19, t.ImageId.Length)]}"));
            table.AddRow("tools", Markup.Escape(string.Join(", ", t.Files)));
        }
        else table.AddRow("toolstack", "Debian's xen-utils from the base set (--tools builds the tree's)");
        if (result.ArtifactSet is not null)
        {
            var shown = result.ArtifactSet;
            if (s.Name is not null)
            {
                var link = Path.Combine(s.Cache, "artifacts", s.Name);
                Directory.CreateDirectory(Path.GetDirectoryName(link)!);
                if (Directory.Exists(link) && new DirectoryInfo(link).LinkTarget is null)
                    throw new ConfigurationException($"{link} is a real artifact set, not a build's name; choose another --name");
                if (File.Exists(link) || Directory.Exists(link)) File.Delete(link);
                File.CreateSymbolicLink(link, result.ArtifactSet);
                shown += $" (as {s.Name})";
            }
            table.AddRow("artifact set", Markup.Escape(shown));
        }
        AnsiConsole.Write(table);
        return 0;
    }
}
