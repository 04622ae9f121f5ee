using System.ComponentModel;
using System.Net;
using Farm.Web;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary><c>farm serve [--listen 127.0.0.1:8080] [--tokens lab/tokens.yaml] [--tls-cert FILE --tls-key FILE]</c>: the lab API until Ctrl-C.</summary>
internal sealed class ServeCommand : AsyncCommand<ServeCommand.Settings>
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

        [CommandOption("--tls-cert <FILE>")]
        [Description("Serve HTTPS with this certificate (PEM; the chain may follow it). Needs --tls-key.")]
        public string? TlsCert { get; init; }

        [CommandOption("--tls-key <FILE>")]
        [Description("The certificate's private key (PEM, unencrypted; readable by the service only).")]
        public string? TlsKey { get; init; }

        [CommandOption("--metrics-anonymous")]
        [Description("Let anyone who can reach the server scrape /metrics without a token (default: a token is needed).")]
        public bool MetricsAnonymous { get; init; }

        public override ValidationResult Validate() =>
            (TlsCert is null) != (TlsKey is null) ? ValidationResult.Error("--tls-cert and --tls-key go together")
            : !IPEndPoint.TryParse(Listen, out _) ? ValidationResult.Error($"--listen {Listen}: expected ADDRESS:PORT, e.g. 127.0.0.1:8080")
            : NightlyAt is not null && !TimeSpan.TryParseExact(NightlyAt, @"hh\:mm", null, out _) ? ValidationResult.Error($"--nightly-at {NightlyAt}: expected HH:MM (UTC), e.g. 02:00")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var farm = FarmContext.Of(context);
        var nightly = s.Nightly.Length > 0 ? s.Nightly : ["jobs/native-smoke.yaml", "jobs/xen-smoke.yaml", "jobs/xen-vpci-smoke.yaml"];
        var options = new LabApiOptions(s.Lab, s.ConnectionString, s.Out, s.RunStore, ApiTokens.Load(s.Tokens))
        {
            Certificate = s.TlsCert is null ? null : LoadCertificate(s.TlsCert, s.TlsKey!),
            AnonymousMetrics = s.MetricsAnonymous,
            NightlyAt = s.NightlyAt is null ? null : TimeSpan.ParseExact(s.NightlyAt, @"hh\:mm", null),
            NightlyJobs = nightly.Select(Path.GetFullPath).ToList(),
            Time = farm.Time,
            Log = new ForwardingLoggerProvider(farm.Logs),
        };
        var app = await LabApi.BuildAsync(options, IPEndPoint.Parse(s.Listen), ct);
        await app.StartAsync(ct);
        AnsiConsole.MarkupLine($"farm serve: lab API on {(s.TlsCert is null ? "http" : "https")}://{Markup.Escape(s.Listen)}/api (Ctrl-C to stop)");
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
        return 0;
    }

    /// <summary>A certificate and its key from PEM files; anything wrong with them is the operator's input (exit 2).</summary>
    internal static System.Security.Cryptography.X509Certificates.X509Certificate2 LoadCertificate(string cert, string key)
    {
        foreach (var f in new[] { cert, key })
        {
            if (!File.Exists(f)) throw new ConfigurationException($"{f}: no such file");
            if (new FileInfo(f).Length > 1 << 20) throw new ConfigurationException($"{f}: larger than 1 MiB; not a PEM certificate or key");
        }
        try
        {
            return System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(cert, key);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new ConfigurationException($"--tls-cert {cert} --tls-key {key}: not a PEM certificate with its private key ({e.Message})", null, e);
        }
    }
}

/// <summary>
/// <c>farm token --user NAME --role viewer|developer|admin [--expires 90d]</c>: makes a bearer token (printed once;
/// only its hash is kept, in the lab database and the tokens file). <c>farm token --revoke NAME|ID</c> ends a
/// user's tokens (or one, by the id printed when it was made) at once, without restarting farm serve;
/// <c>farm token --list</c> shows ids, users, roles and expiry, never a token.
/// </summary>
internal sealed class TokenCommand : AsyncCommand<TokenCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--user <NAME>")]
        public string? User { get; init; }

        [CommandOption("--role <ROLE>")]
        public string Role { get; init; } = "viewer";

        [CommandOption("--file <FILE>")]
        [Description("Also append the token's hash here (default lab/tokens.yaml; farm serve imports it at start).")]
        public string File { get; init; } = "lab/tokens.yaml";

        [CommandOption("--expires <WHEN>")]
        [Description("When the token stops working: a number of days (90d), a duration (12h) or a UTC time (2027-01-31T00:00:00Z). Default: never.")]
        public string? Expires { get; init; }

        [CommandOption("--revoke <NAME|ID>")]
        [Description("Revoke every token of this user, or the token with this id.")]
        public string? Revoke { get; init; }

        [CommandOption("--list")]
        public bool List { get; init; }

        [CommandOption("--db <CONNECTION>")]
        [Description("Lab database (as farm serve's --db). Default: $FARM_DB, else artifacts/lab.db.")]
        public string? Db { get; init; }

        public string ConnectionString => Farm.Lab.LabDatabase.ConnectionStringOr(Db);

        public override ValidationResult Validate() =>
            new[] { User is not null, Revoke is not null, List }.Count(x => x) != 1 ? ValidationResult.Error("give one of --user NAME (make a token), --revoke NAME|ID, --list")
            : User is not null && string.IsNullOrWhiteSpace(User) ? ValidationResult.Error("--user is required")
            : !Enum.TryParse<ApiRole>(Role, ignoreCase: true, out _) ? ValidationResult.Error($"--role {Role}: viewer, developer or admin")
            : Expires is not null && ExpiryOf(Expires, DateTimeOffset.UtcNow) is null ? ValidationResult.Error($"--expires {Expires}: expected 90d, 12h or a UTC time like 2027-01-31T00:00:00Z, in the future and within 10 years")
            : ValidationResult.Success();
    }

    /// <summary>When a token given <c>--expires</c> stops working, or null if that is not a time within ten years.</summary>
    internal static DateTimeOffset? ExpiryOf(string text, DateTimeOffset now)
    {
        DateTimeOffset? at = null;
        if (text.EndsWith('d') && int.TryParse(text[..^1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var days) && days is > 0 and <= 3650)
            at = now.AddDays(days);
        else if (Farm.Spec.Duration.TryParse(text, out var span))
            at = now + span;
        else if (text.Length <= 40 && DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t))
            at = t;
        return at is { } a && a > now && a <= now.AddDays(3660) ? a : null;
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        await using var db = await Farm.Lab.LabDatabase.OpenAsync(s.ConnectionString, ct);
        var store = new TokenStore(db, FarmContext.Of(context).Time);
        if (s.Revoke is { } who)
        {
            var n = await store.RevokeAsync(who, ct);
            if (n == 0) throw new ConfigurationException($"--revoke {Farm.Web.LabApi.Clip(who)}: no live token of that user or with that id (farm token --list shows them)");
            await Console.Error.WriteLineAsync($"revoked {n} token(s) of {Farm.Web.LabApi.Clip(who)}; the server refuses them from the next request");
            return 0;
        }
        if (s.List)
        {
            foreach (var t in await store.ListAsync(ct))
                Console.WriteLine($"{t.Id}  {t.User,-20} {t.Role.ToString().ToLowerInvariant(),-9} made {t.Created:yyyy-MM-dd}  "
                    + (t.Revoked is { } r ? $"revoked {r:yyyy-MM-dd HH:mm}" : t.Expires is { } e ? $"expires {e:yyyy-MM-dd HH:mm}" : "never expires"));
            return 0;
        }
        var (token, entry) = await store.IssueAsync(s.User!, Enum.Parse<ApiRole>(s.Role, ignoreCase: true), s.Expires is null ? null : ExpiryOf(s.Expires, DateTimeOffset.UtcNow), ct);
        ApiTokens.Append(s.File, entry);
        Console.WriteLine(token);
        await Console.Error.WriteLineAsync($"token id {ApiTokens.Id(entry.Sha256)} for {entry.User.Name} ({entry.User.Role.ToString().ToLowerInvariant()}); farm token --revoke {ApiTokens.Id(entry.Sha256)} ends it");
        return 0;
    }
}
