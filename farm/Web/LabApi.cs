using System.Net;
using Farm.Boards.Spec;
using Farm.Spec;
using Farm.Lab;
using Farm.Lab.Health;
using Farm.Lab.Leases;
using Farm.Reports;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Farm.Web;

/// <summary>Where <c>farm serve</c> finds the lab, its database, the run store and the tokens.</summary>
internal sealed record LabApiOptions(string Lab, string Database, string Out, string? Store, ApiTokens Tokens)
{
    /// <summary>When set, <c>farm serve</c> queues <see cref="NightlyJobs"/> every day at this UTC time.</summary>
    public TimeSpan? NightlyAt { get; init; }

    public IReadOnlyList<string> NightlyJobs { get; init; } = [];

    /// <summary>Where the server logs (start-up, every failed request: <see cref="RequestLog"/>); default: the console, on stderr.</summary>
    public ILoggerProvider? Log { get; init; }

    /// <summary>When set, <c>farm serve</c> answers only HTTPS, with this certificate (and its private key).</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; init; }

    /// <summary>Lets Prometheus scrape <c>/metrics</c> without a token (an explicit opt-in; by default it needs one).</summary>
    public bool AnonymousMetrics { get; init; }

    /// <summary>Failed sign-ins from one address within five minutes before it must wait.</summary>
    public int SignInLimit { get; init; } = 10;

    /// <summary>The server's clock (tokens' and sessions' expiry, the sign-in window).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>Bodies of the write endpoints.</summary>
internal sealed record ReserveBody(string Board, string? For, string? Note);

internal sealed record RenewBody(string? For);

internal sealed record ReasonBody(string? Reason);

internal sealed record QueueBody(string Job, string? Board, int? Priority);

/// <summary>
/// The lab's REST API (<c>farm serve</c>): boards with health and leases, reservations, operator
/// actions, runs. Every <c>/api</c> request needs a bearer token (401 without a valid one); each
/// endpoint needs a role (viewer reads, developer reserves, admin quarantines and returns boards;
/// 403 below it); every write is recorded in <c>api_audit</c> with the user and the answer.
/// </summary>
internal static class LabApi
{
    public static async Task<WebApplication> BuildAsync(LabApiOptions o, IPEndPoint listen, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // Bodies and answers through the source-generated context (Native AOT has no reflection serializer).
        builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.TypeInfoResolverChain.Insert(0, LabApiJsonContext.Default));
        builder.Logging.ClearProviders();
        if (o.Log is { } provider) builder.Logging.AddProvider(provider);
        else builder.Logging.AddSimpleConsole(c => c.SingleLine = true).AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k => k.Listen(listen, l =>
        {
            if (o.Certificate is { } cert) l.UseHttps(cert);
        }));
        var db = await LabDatabase.OpenAsync(o.Database, ct).ConfigureAwait(false);
        var view = new LabView(o, db, o.Time);
        // The tokens file is imported, not consulted: a token revoked in the database stays revoked across restarts.
        try { await view.Tokens.ImportAsync(o.Tokens, ct).ConfigureAwait(false); }
        catch { await db.DisposeAsync().ConfigureAwait(false); throw; }
        var (leases, events) = (view.Leases, view.Events);
        var app = builder.Build();
        // The schedule (nightly + reaping silent agents' jobs) lives as long as the server; stopping waits for it.
        var stopping = new CancellationTokenSource();
        var schedule = new NightlySchedule(view.Queue, o.NightlyAt ?? TimeSpan.FromHours(2), o.NightlyAt is null ? [] : o.NightlyJobs, view.Time, TimeSpan.FromMinutes(1));
        Task? scheduled = null;
        app.Lifetime.ApplicationStarted.Register(() => scheduled = schedule.RunAsync(stopping.Token));
        app.Lifetime.ApplicationStopping.Register(() => stopping.Cancel());
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            scheduled?.GetAwaiter().GetResult();
            stopping.Dispose();
            db.DisposeAsync().AsTask().GetAwaiter().GetResult();
        });

        // Every answer, errors included: never sniffed, never framed, no referrer to other sites, and nothing
        // a signed-in user saw left in a cache. A page's own CSP is kept and gets frame-ancestors added.
        app.Use(async (ctx, next) =>
        {
            ctx.Response.OnStarting(() =>
            {
                var h = ctx.Response.Headers;
                h.XContentTypeOptions = "nosniff";
                h["Referrer-Policy"] = "same-origin";
                var csp = h.ContentSecurityPolicy.ToString();
                if (!csp.Contains("frame-ancestors", StringComparison.Ordinal))
                    h.ContentSecurityPolicy = csp.Length == 0 ? "frame-ancestors 'none'" : csp + "; frame-ancestors 'none'";
                if (ctx.Items.ContainsKey(nameof(ApiUser)) || ctx.Request.Path.StartsWithSegments("/api")) h.CacheControl = "no-store";
                if (ctx.Request.IsHttps) h.StrictTransportSecurity = "max-age=31536000";
                return Task.CompletedTask;
            });
            await next(ctx);
        });

        // Bad input is a 400 with a message, never a 500; anything else that escapes is Farm's bug: logged with its exception, answered without it.
        // Every failed answer (400 and up, the refusals of the token check below included) is one RequestLog event.
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Farm.Web");
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            foreach (var address in app.Urls) RequestLog.Listening(log, address);
        });
        app.Use(async (ctx, next) =>
        {
            Exception? failure = null;
            try { await next(ctx); }
            catch (Exception e) when (e is BadHttpRequestException or InvalidDataException && !ctx.Response.HasStarted)
            {
                failure = e;
                ctx.Response.Clear();
                ctx.Response.StatusCode = e is BadHttpRequestException b ? b.StatusCode : StatusCodes.Status400BadRequest;
                await ctx.Response.WriteAsJsonAsync(new ApiError(Clip(e.Message)), LabApiJsonContext.Wire.ApiError);
            }
            catch (Exception e) when (!ctx.RequestAborted.IsCancellationRequested)
            {
                if (ctx.Response.HasStarted)
                {
                    RequestLog.Answered(log, ctx.Request.Method, ctx.Request.Path.ToString(), StatusCodes.Status500InternalServerError, e);
                    throw;
                }
                failure = e;
                ctx.Response.Clear();
                ctx.Response.StatusCode = StatusCodes.Status500InternalServerError;
                await ctx.Response.WriteAsJsonAsync(new ApiError("the server failed on this request; it logged why"), LabApiJsonContext.Wire.ApiError);
            }
            if (ctx.Response.StatusCode >= 400) RequestLog.Answered(log, ctx.Request.Method, ctx.Request.Path.ToString(), ctx.Response.StatusCode, failure);
        });

        var signIn = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Farm.Web.SignIn");
        app.Use(async (ctx, next) =>
        {
            if (!ctx.Request.Path.StartsWithSegments("/api")) { await next(ctx); return; }
            var (user, wait) = Bearer(ctx) is { } token ? await CheckTokenAsync(view, ctx, token, signIn) : (null, TimeSpan.Zero);
            if (user is null)
            {
                if (wait > TimeSpan.Zero) { await TooManyAsync(ctx, wait); return; }
                ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
                ctx.Response.Headers.WWWAuthenticate = "Bearer";
                await ctx.Response.WriteAsJsonAsync(new ApiError("a valid bearer token is required (farm token makes one)"), LabApiJsonContext.Wire.ApiError);
                return;
            }
            ctx.Items[nameof(ApiUser)] = user;
            await next(ctx);
            if (!HttpMethods.IsGet(ctx.Request.Method))
                await view.AuditAsync(user.Name, Remote(ctx), ctx.Request.Method, ctx.Request.Path, ctx.Response.StatusCode, CancellationToken.None);
        });

        app.MapGet("/healthz", () => Results.Text("ok"));
        Ui.WebUi.Map(app, view, signIn);
        LabMetrics.Map(app, view);

        var api = app.MapGroup("/api");
        api.MapGet("/boards", async (CancellationToken t) => Results.Ok((await view.BoardsAsync(t)).Select(r => new BoardJson(
            r.Spec.Name, r.Spec.TypeName, r.Spec.Kind, r.Spec.Mode.ToString().ToLowerInvariant(), r.Spec.Tags,
            r.Health.Health.ToString().ToLowerInvariant(), r.Health.Reason, r.Health.Evidence,
            SecretMask.Mask(r.Spec.SharedPower), SecretMask.Mask(r.Spec.SharedConsole),
            r.Lease is null ? null : new BoardLeaseJson(r.Lease.Holder, r.Lease.Expires, r.Lease.Note),
            r.LastRun is null ? null : new BoardRunJson(r.LastRun.RunId, r.LastRun.Verdict.ToWire(), r.LastRun.Job, r.LastRun.Start))).ToArray()))
            .AddEndpointFilter(Require(ApiRole.Viewer));

        // Lists go out as arrays: ASP.NET writes a value by its runtime type, which LabApiJsonContext must know.
        api.MapGet("/leases", async (CancellationToken t) => Results.Ok((await leases.ActiveAsync(t)).ToArray())).AddEndpointFilter(Require(ApiRole.Viewer));

        api.MapPost("/leases", async (ReserveBody body, HttpContext ctx, CancellationToken t) =>
        {
            var lab = view.Lab();
            if (body.Board is null || lab.Find(body.Board) is null) return Results.NotFound(new ApiError($"no board named \"{Clip(body.Board)}\"{NearMiss.Hint(Clip(body.Board), lab.Boards.Select(b => b.Name))}"));
            if (!Duration.TryParse(body.For ?? "1h", out var span)) return Results.BadRequest(new ApiError($"for: \"{Clip(body.For)}\" is not a duration of at most {Duration.MaxText} ({Duration.Hint})"));
            if (body.Note is { Length: > MaxNote }) return Results.BadRequest(new ApiError($"note: at most {MaxNote} characters"));
            var grant = await leases.AcquireAsync(body.Board, User(ctx).Name, span, LeaseKind.Interactive, body.Note, t);
            return grant.Granted ? Results.Created($"/api/leases/{body.Board}", grant.Current) : Results.Conflict(new LeaseConflict(grant.Describe, grant.Current));
        }).AddEndpointFilter(Require(ApiRole.Developer));

        api.MapPost("/leases/{board}/renew", async (string board, RenewBody body, HttpContext ctx, CancellationToken t) =>
        {
            if (!Duration.TryParse(body.For ?? "1h", out var span)) return Results.BadRequest(new ApiError($"for: \"{Clip(body.For)}\" is not a duration of at most {Duration.MaxText}"));
            try { return Results.Ok(await leases.RenewAsync(board, User(ctx).Name, span, t)); }
            catch (InfrastructureException e) { return Results.Conflict(new ApiError(e.Message)); }
        }).AddEndpointFilter(Require(ApiRole.Developer));

        api.MapDelete("/leases/{board}", async (string board, HttpContext ctx, CancellationToken t) =>
            await leases.ReleaseAsync(board, User(ctx).Name, t) ? Results.NoContent() : Results.Conflict(new ApiError($"{User(ctx).Name} holds no lease on {board}")))
            .AddEndpointFilter(Require(ApiRole.Developer));

        foreach (var action in new[] { "quarantine", "return" })
            api.MapPost($"/boards/{{board}}/{action}", async (string board, ReasonBody? body, HttpContext ctx, CancellationToken t) =>
            {
                if (view.Lab().Find(board) is null) return Results.NotFound(new ApiError($"no board named \"{Clip(board)}\""));
                if (body?.Reason is { Length: > MaxNote }) return Results.BadRequest(new ApiError($"reason: at most {MaxNote} characters"));
                await events.RecordAsync(board, action, User(ctx).Name, body?.Reason, t);
                return Results.NoContent();
            }).AddEndpointFilter(Require(ApiRole.Admin));

        api.MapGet("/jobs", async (CancellationToken t) => Results.Ok((await view.Queue.ListAsync(200, t)).ToArray())).AddEndpointFilter(Require(ApiRole.Viewer));

        api.MapPost("/jobs", async (QueueBody body, HttpContext ctx, CancellationToken t) =>
        {
            // The path is the agents' (a checkout on each bench host); the controller checks the board, the agent the file.
            if (string.IsNullOrWhiteSpace(body.Job)) return Results.BadRequest(new ApiError("job: the job file's path (as the agents see it)"));
            if (body.Job.Length > MaxJobPath || body.Job.Any(char.IsControl))
                return Results.BadRequest(new ApiError($"job: a path of at most {MaxJobPath} characters, without control characters"));
            if (body.Board is { } b && b != Farm.Lab.Queue.JobQueue.AnyBoard && view.Lab().Find(b) is null)
                return Results.NotFound(new ApiError($"no board named \"{Clip(b)}\""));
            var q = await view.Queue.EnqueueAsync(body.Job, body.Board ?? Farm.Lab.Queue.JobQueue.AnyBoard, User(ctx).Name, body.Priority ?? 0, t);
            return Results.Created($"/api/jobs/{q.Id}", q);
        }).AddEndpointFilter(Require(ApiRole.Developer));

        api.MapDelete("/jobs/{id}", async (string id, HttpContext ctx, CancellationToken t) =>
        {
            var user = User(ctx);
            return await view.Queue.CancelAsync(id, user.Name, user.Role >= ApiRole.Admin, t) switch
            {
                Farm.Lab.Queue.JobQueue.CancelOutcome.Canceled => Results.NoContent(),
                Farm.Lab.Queue.JobQueue.CancelOutcome.NotFound => Results.NotFound(new ApiError($"no job {Clip(id)}")),
                Farm.Lab.Queue.JobQueue.CancelOutcome.NotYours => Results.Json(new ApiError($"job {Clip(id)} was queued by someone else; only they or an admin may cancel it"), LabApiJsonContext.Wire.ApiError, statusCode: StatusCodes.Status403Forbidden),
                _ => Results.Conflict(new ApiError($"job {Clip(id)} is already over")),
            };
        }).AddEndpointFilter(Require(ApiRole.Developer));

        // Agents send their runs here (RemoteRunSink): the record when it starts and ends, the console as it grows.
        // Every path below the run store is built from a run id of JobRunner's shape and a board of the lab,
        // and a run is written only by the user that recorded it first (its agent, holding the board's lease) or an admin.
        api.MapPut("/runs/{id}", async (string id, HttpContext ctx, CancellationToken t) =>
        {
            if (!RunIds.IsValid(id)) return Results.BadRequest(new ApiError($"\"{Clip(id)}\" is not a run id (yyyyMMdd-HHmmss-job-hex6)"));
            RunRecord? record;
            try
            {
                ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize = MaxRunRecordBytes;
                record = await System.Text.Json.JsonSerializer.DeserializeAsync(ctx.Request.Body, StrictRunRecord, t);
            }
            catch (System.Text.Json.JsonException e) { return Results.BadRequest(new ApiError($"not a run record: {Clip(e.Message)}")); }
            catch (BadHttpRequestException e) { return Results.Json(new ApiError(e.Message), LabApiJsonContext.Wire.ApiError, statusCode: e.StatusCode); }
            if (record is null || record.RunId != id) return Results.BadRequest(new ApiError($"the record's runId must be {id}"));
            if (record.Board is null || view.Lab().Find(record.Board) is null)
                return Results.BadRequest(new ApiError($"board \"{Clip(record.Board)}\" is not a board of this lab"));
            var user = User(ctx);
            // A new run is recorded by whoever holds its board: the agent that claimed the job holds it with a
            // job lease (under its name, which is its token's user), a developer running by hand with theirs.
            // Anyone else could invent runs on boards they do not have.
            if (user.Role < ApiRole.Admin && await view.RunWriterAsync(id, t) is null
                && (await leases.ActiveAsync(t)).FirstOrDefault(l => l.Board == record.Board) is var lease && lease?.Holder != user.Name)
                return Results.Json(new ApiError($"run {id} on {record.Board}: only the holder of {record.Board}'s lease (the agent that claimed its job) or an admin may record it; {(lease is null ? "it is free" : $"{lease.Holder} holds it")}"),
                    LabApiJsonContext.Wire.ApiError, statusCode: StatusCodes.Status403Forbidden);
            var writer = await view.RunWriterAsync(id, user.Name, record.Board, t);
            if (writer.User != user.Name && user.Role < ApiRole.Admin)
                return Results.Json(new ApiError($"run {id} is written by {writer.User}; only it or an admin may write it"), LabApiJsonContext.Wire.ApiError, statusCode: StatusCodes.Status403Forbidden);
            if (writer.Board != record.Board) return Results.BadRequest(new ApiError($"run {id} runs on {writer.Board}, not {Clip(record.Board)}"));
            var store = await view.RunStoreAsync(t);
            await store.SaveAsync(record with { RunDirectory = Path.GetFullPath(Path.Combine(o.Out, id)) }, t);
            return Results.NoContent();
        }).AddEndpointFilter(Require(ApiRole.Developer));

        api.MapPost("/runs/{id}/console", async (string id, string board, long offset, HttpContext ctx, CancellationToken t) =>
        {
            if (!RunIds.IsValid(id)) return Results.BadRequest(new ApiError($"\"{Clip(id)}\" is not a run id"));
            if (offset < 0) return Results.BadRequest(new ApiError($"offset {offset} is negative"));
            var user = User(ctx);
            if (await view.RunWriterAsync(id, t) is not { } writer) return Results.NotFound(new ApiError($"no run {id}: PUT its record first"));
            if (writer.User != user.Name && user.Role < ApiRole.Admin)
                return Results.Json(new ApiError($"run {id} is written by {writer.User}; only it or an admin may write it"), LabApiJsonContext.Wire.ApiError, statusCode: StatusCodes.Status403Forbidden);
            if (board != writer.Board) return Results.BadRequest(new ApiError($"run {id} runs on {writer.Board}, not {Clip(board)}"));
            var path = Path.Combine(o.Out, id, writer.Board, "console.log");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await using var f = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite, 1 << 16, useAsync: true);
            // A chunk goes exactly at the end: a gap would lose bytes, an overlap would rewrite them.
            if (offset != f.Length) return Results.Conflict(new ConsoleRefused($"have {f.Length} bytes, got a chunk at {offset}", f.Length));
            ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize = MaxConsoleChunk;
            using var body = new MemoryStream();
            try { await ctx.Request.Body.CopyToAsync(body, t); }
            catch (BadHttpRequestException e) { return Results.Json(new ConsoleRefused(e.Message, f.Length), LabApiJsonContext.Wire.ConsoleRefused, statusCode: e.StatusCode); }
            f.Seek(0, SeekOrigin.End);
            await f.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length), t);
            return Results.Ok(new ConsoleLength(f.Length));
        }).AddEndpointFilter(Require(ApiRole.Developer));

        api.MapGet("/runs", async (int? latest, CancellationToken t) =>
        {
            if (await view.RunsAsync(t) is not { } store) return Results.Ok(Array.Empty<RunSummaryJson>());
            var runs = await store.LatestAsync(Math.Clamp(latest ?? 20, 1, 500), t);
            return Results.Ok(runs.Select(r => new RunSummaryJson(r.RunId, r.Job, r.Board, r.Verdict.ToWire(), r.Start, r.Duration.TotalSeconds, r.Message)).ToArray());
        }).AddEndpointFilter(Require(ApiRole.Viewer));

        return app;
    }

    static ApiUser User(HttpContext ctx) => (ApiUser)ctx.Items[nameof(ApiUser)]!;

    /// <summary>The bearer token of a request, if it has one.</summary>
    internal static string? Bearer(HttpContext ctx) =>
        ctx.Request.Headers.Authorization.ToString() is var h && h.StartsWith("Bearer ", StringComparison.Ordinal) && h["Bearer ".Length..].Trim() is { Length: > 0 } t ? t : null;

    internal static string Remote(HttpContext ctx) => ctx.Connection.RemoteIpAddress?.ToString() ?? "?";

    /// <summary>
    /// Checks a token someone signs in with (a bearer token, or the sign-in form). A token that is not
    /// valid is a failed sign-in: counted against the caller's address, logged and audited (user "-").
    /// Past the limit, failures are answered 429 with Retry-After and no longer logged one by one (the
    /// crossing is). A valid token still signs in from a limited address: tokens are 256 random bits, so
    /// the limit is there to bound guessing's noise, and one bad client behind a shared address (a NAT,
    /// a proxy) must not lock out every agent behind it.
    /// </summary>
    internal static async Task<(ApiUser? User, TimeSpan RetryAfter)> CheckTokenAsync(LabView view, HttpContext ctx, string token, ILogger log)
    {
        var remote = Remote(ctx);
        if (token.Length <= 256 && await view.Tokens.FindAsync(token, ctx.RequestAborted) is { } user) return (user, TimeSpan.Zero);
        if (view.Throttle.RetryAfter(remote) is var wait && wait > TimeSpan.Zero) return (null, wait);
        view.Throttle.Failed(remote);
        // The path is the caller's text, and a token pasted into it is still a token: masked in the log and the audit.
        var path = RequestLog.Redact(ctx.Request.Path);
        log.LogWarning("failed sign-in from {Remote}: {Method} {Path} with a token that is unknown, expired or revoked", remote, ctx.Request.Method, path);
        await view.AuditAsync("-", remote, ctx.Request.Method, path, StatusCodes.Status401Unauthorized, CancellationToken.None);
        if (view.Throttle.RetryAfter(remote) > TimeSpan.Zero)
            log.LogWarning("sign-ins from {Remote} limited: {Limit} failures within {Window}; further failures answer 429", remote, view.Throttle.Limit, view.Throttle.Window);
        return (null, TimeSpan.Zero);
    }

    internal static async Task TooManyAsync(HttpContext ctx, TimeSpan wait)
    {
        ctx.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        ctx.Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await ctx.Response.WriteAsJsonAsync(new ApiError($"too many failed sign-ins from this address; try again in {Math.Ceiling(wait.TotalSeconds)}s"), LabApiJsonContext.Wire.ApiError);
    }

    /// <summary>Longest lease note or operator reason.</summary>
    public const int MaxNote = 500;

    /// <summary>Longest job path a queue entry may carry.</summary>
    public const int MaxJobPath = 1024;

    /// <summary>Largest run record an agent may PUT.</summary>
    public const long MaxRunRecordBytes = 4 << 20;

    /// <summary>
    /// A run record as it arrives from an agent: run.json's own shape (<see cref="RunJsonContext"/>), read strictly, so a
    /// member every record has (stages, checks, provenance and its hashes, metrics, a check's evidence) that is missing
    /// or null is a <see cref="System.Text.Json.JsonException"/> naming it, not a stored record whose page then fails.
    /// </summary>
    static readonly System.Text.Json.Serialization.Metadata.JsonTypeInfo<RunRecord> StrictRunRecord =
        (System.Text.Json.Serialization.Metadata.JsonTypeInfo<RunRecord>)new System.Text.Json.JsonSerializerOptions(RunJsonContext.Default.Options)
        { RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true }.GetTypeInfo(typeof(RunRecord));

    /// <summary>Largest console chunk (RemoteRunSink sends at most 1 MiB).</summary>
    public const long MaxConsoleChunk = 2 << 20;

    /// <summary>A caller's text quoted back in an error: one line, short.</summary>
    internal static string Clip(string? s) => MessageText.Clip(s);

    static Func<EndpointFilterInvocationContext, EndpointFilterDelegate, ValueTask<object?>> Require(ApiRole role) => async (ctx, next) =>
        User(ctx.HttpContext).Role >= role
            ? await next(ctx)
            : Results.Json(new ApiError($"this needs the {role.ToString().ToLowerInvariant()} role; {User(ctx.HttpContext).Name} is {User(ctx.HttpContext).Role.ToString().ToLowerInvariant()}"),
                LabApiJsonContext.Wire.ApiError, statusCode: StatusCodes.Status403Forbidden);

}
