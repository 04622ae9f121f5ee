using System.ComponentModel;
using System.Net;
using Farm.Web;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary><c>farm serve [--listen 127.0.0.1:8080] [--tokens lab/tokens.yaml]</c>: the lab API until Ctrl-C.</summary>
public sealed class ServeCommand : AsyncCommand<ServeCommand.Settings>
{
    public sealed class Settings : LeaseSettings
    {
        [CommandOption("--listen <ADDRESS:PORT>")]
        [Description("Where to listen (default 127.0.0.1:8080).")]
        public string Listen { get; init; } = "127.0.0.1:8080";

        [CommandOption("--tokens <FILE>")]
        [Description("Bearer tokens (hashes), made with farm token (default: lab/tokens.yaml).")]
        public string Tokens { get; init; } = "lab/tokens.yaml";

        [CommandOption("--out <DIR>")]
        [Description("Where runs are recorded (default: artifacts/).")]
        public string Out { get; init; } = "artifacts";

        [CommandOption("--nightly-at <HH:MM>")]
        [Description("Queue the nightly jobs every day at this UTC time (for farm agent to run).")]
        public string? NightlyAt { get; init; }

        [CommandOption("--nightly <JOB>")]
        [Description("A nightly job file (repeatable; default: jobs/native-smoke.yaml jobs/xen-smoke.yaml jobs/xen-vpci-smoke.yaml).")]
        public string[] Nightly { get; init; } = [];

        public override ValidationResult Validate() =>
            !IPEndPoint.TryParse(Listen, out _) ? ValidationResult.Error($"--listen {Listen}: expected ADDRESS:PORT, e.g. 127.0.0.1:8080")
            : NightlyAt is not null && !TimeSpan.TryParseExact(NightlyAt, @"hh\:mm", null, out _) ? ValidationResult.Error($"--nightly-at {NightlyAt}: expected HH:MM (UTC), e.g. 02:00")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var nightly = s.Nightly.Length > 0 ? s.Nightly : ["jobs/native-smoke.yaml", "jobs/xen-smoke.yaml", "jobs/xen-vpci-smoke.yaml"];
        var options = new LabApiOptions(s.Lab, s.ConnectionString, s.Out, s.RunStore, ApiTokens.Load(s.Tokens))
        {
            NightlyAt = s.NightlyAt is null ? null : TimeSpan.ParseExact(s.NightlyAt, @"hh\:mm", null),
            NightlyJobs = nightly.Select(Path.GetFullPath).ToList(),
        };
        var app = await LabApi.BuildAsync(options, IPEndPoint.Parse(s.Listen), ct);
        await app.StartAsync(ct);
        AnsiConsole.MarkupLine($"farm serve: lab API on http://{Markup.Escape(s.Listen)}/api (Ctrl-C to stop)");
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
        return 0;
    }
}

/// <summary><c>farm token --user NAME --role viewer|developer|admin [--file lab/tokens.yaml]</c>: makes a bearer token (printed once; only its hash is kept).</summary>
public sealed class TokenCommand : Command<TokenCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--user <NAME>")]
        public string User { get; init; } = "";

        [CommandOption("--role <ROLE>")]
        public string Role { get; init; } = "viewer";

        [CommandOption("--file <FILE>")]
        public string File { get; init; } = "lab/tokens.yaml";

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(User) ? ValidationResult.Error("--user is required")
            : !Enum.TryParse<ApiRole>(Role, ignoreCase: true, out _) ? ValidationResult.Error($"--role {Role}: viewer, developer or admin")
            : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken ct)
    {
        var token = ApiTokens.Issue(s.File, s.User, Enum.Parse<ApiRole>(s.Role, ignoreCase: true));
        Console.WriteLine(token);
        return 0;
    }
}
