using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Farm.Lab.Leases;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Farm.Web;

/// <summary>A board as the controller lists it (what the CLI needs to pick one by tags).</summary>
internal sealed record RemoteBoard(string Name, IReadOnlyList<string> Tags);

/// <summary>
/// The CLI's side of the lab API (<c>farm reserve ... --server URL --token T</c>, or FARM_SERVER and
/// FARM_TOKEN): the same operations as on the lab database, through a controller that decides who
/// the caller is from the token. A refused token or role is bad input (error); an unreachable
/// controller is the lab's fault (incomplete).
/// </summary>
internal sealed class RemoteLab : IDisposable
{
    readonly HttpClient _http;
    readonly string _server;
    readonly ILogger _log;

    /// <param name="log">Where every request the controller did not take is logged (<see cref="RequestLog.ControllerFailed"/>; farm agent's log).</param>
    public RemoteLab(string server, string token, HttpMessageHandler? handler = null, ILogger? log = null)
    {
        _log = log ?? NullLogger.Instance;
        _server = server.TrimEnd('/');
        _http = new HttpClient(handler ?? new SocketsHttpHandler()) { BaseAddress = new Uri(_server + "/"), Timeout = TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public async Task<IReadOnlyList<RemoteBoard>> BoardsAsync(CancellationToken ct) =>
        await ReadAsync(await SendAsync(HttpMethod.Get, "api/boards", null, ct), RemoteLabJsonContext.Default.ListRemoteBoard, ct);

    public async Task<IReadOnlyList<Lease>> ActiveAsync(CancellationToken ct) =>
        await ReadAsync(await SendAsync(HttpMethod.Get, "api/leases", null, ct), RemoteLabJsonContext.Default.ListLease, ct);

    public async Task<LeaseGrant> AcquireAsync(string board, TimeSpan span, string? note, CancellationToken ct)
    {
        using var res = await SendAsync(HttpMethod.Post, "api/leases", Body(new ReserveBody(board, $"{(long)span.TotalSeconds}s", note), RemoteLabJsonContext.Default.ReserveBody), ct, HttpStatusCode.Conflict);
        if (res.StatusCode == HttpStatusCode.Conflict)
        {
            var body = await res.Content.ReadFromJsonAsync(RemoteLabJsonContext.Default.JsonElement, ct);
            return new LeaseGrant(false, body.GetProperty("lease").Deserialize(RemoteLabJsonContext.Default.Lease)!);
        }
        return new LeaseGrant(true, await ReadAsync(res, RemoteLabJsonContext.Default.Lease, ct));
    }

    /// <summary>Renews the caller's lease: the lease, or why it was lost (the controller's answer); an unreachable controller throws.</summary>
    public async Task<(Lease? Lease, string? Lost)> RenewAsync(string board, TimeSpan span, CancellationToken ct)
    {
        using var res = await SendAsync(HttpMethod.Post, $"api/leases/{Uri.EscapeDataString(board)}/renew", Body(new RenewBody($"{(long)span.TotalSeconds}s"), RemoteLabJsonContext.Default.RenewBody), ct, HttpStatusCode.Conflict);
        if (res.StatusCode == HttpStatusCode.Conflict) return (null, await ErrorAsync(res, ct));
        return (await ReadAsync(res, RemoteLabJsonContext.Default.Lease, ct), null);
    }

    public async Task<bool> ReleaseAsync(string board, CancellationToken ct)
    {
        using var res = await SendAsync(HttpMethod.Delete, $"api/leases/{Uri.EscapeDataString(board)}", null, ct, HttpStatusCode.Conflict);
        return res.StatusCode == HttpStatusCode.NoContent;
    }

    public async Task<JsonElement> QueueAsync(string job, string? board, int priority, CancellationToken ct) =>
        await ReadAsync(await SendAsync(HttpMethod.Post, "api/jobs", Body(new QueueBody(job, board, priority), RemoteLabJsonContext.Default.QueueBody), ct),
            RemoteLabJsonContext.Default.JsonElement, ct);

    /// <summary>Cancels a queued or running job (the caller's own, or any with an admin token).</summary>
    public async Task CancelJobAsync(string id, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Delete, $"api/jobs/{Uri.EscapeDataString(id)}", null, ct)).Dispose();

    /// <summary>Records a run on the controller (an agent's run, at its start and its end).</summary>
    public async Task PutRunAsync(RunRecord run, CancellationToken ct)
    {
        using var req = new HttpRequestMessage(HttpMethod.Put, $"api/runs/{Uri.EscapeDataString(run.RunId)}")
        {
            Content = new StringContent(JsonSerializer.Serialize(run, RunJsonContext.Default.RunRecord), System.Text.Encoding.UTF8, "application/json"),
        };
        (await SendRawAsync(req, ct)).Dispose();
    }

    /// <summary>Appends console bytes at <paramref name="offset"/>; returns how many bytes the controller has (a gap is answered with that number).</summary>
    public async Task<long> AppendConsoleAsync(string runId, string board, long offset, ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, $"api/runs/{Uri.EscapeDataString(runId)}/console?board={Uri.EscapeDataString(board)}&offset={offset}")
        {
            Content = new ReadOnlyMemoryContent(bytes),
        };
        using var res = await SendRawAsync(req, ct, HttpStatusCode.Conflict);
        return (await res.Content.ReadFromJsonAsync(RemoteLabJsonContext.Default.JsonElement, ct)).GetProperty("length").GetInt64();
    }

    async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage req, CancellationToken ct, params HttpStatusCode[] alsoFine)
    {
        HttpResponseMessage res;
        try { res = await _http.SendAsync(req, ct).ConfigureAwait(false); }
        catch (HttpRequestException e) { throw Logged(req, null, new InfrastructureException($"controller {_server}: {e.Message}", null, e)); }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested) { throw Logged(req, null, new InfrastructureException($"controller {_server}: no answer in 30 s", null, e)); }
        if (res.IsSuccessStatusCode || alsoFine.Contains(res.StatusCode)) return res;
        var error = await ErrorAsync(res, ct);
        res.Dispose();
        throw Logged(req, (int)res.StatusCode, (int)res.StatusCode is 401 or 403 or 400 or 404 or 409
            ? new ConfigurationException($"controller {_server}: {(int)res.StatusCode} {error}")
            : new InfrastructureException($"controller {_server}: {(int)res.StatusCode} {error}"));
    }

    FarmException Logged(HttpRequestMessage req, int? status, FarmException e)
    {
        // The path only: a query (the console's board and offset) says nothing a reader needs, and no header is ever logged.
        var path = req.RequestUri is { } u ? (u.IsAbsoluteUri ? u.AbsolutePath : "/" + u.OriginalString.Split('?')[0].TrimStart('/')) : "";
        RequestLog.ControllerFailed(_log, req.Method.Method, RequestLog.Redact(path), RequestLog.Redact(_server), status,
            (e.InnerException ?? e).GetType().Name, RequestLog.Redact(e.Message));
        return e;
    }

    async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? body, CancellationToken ct, params HttpStatusCode[] alsoFine)
    {
        using var req = new HttpRequestMessage(method, path) { Content = body };
        return await SendRawAsync(req, ct, alsoFine).ConfigureAwait(false);
    }

    static JsonContent Body<T>(T body, JsonTypeInfo<T> type) => JsonContent.Create(body, type);

    static async Task<string> ErrorAsync(HttpResponseMessage res, CancellationToken ct)
    {
        var text = await res.Content.ReadAsStringAsync(ct);
        try { return JsonDocument.Parse(text).RootElement.GetProperty("error").GetString() ?? text; }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { return text; }
    }

    static async Task<T> ReadAsync<T>(HttpResponseMessage res, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using (res) return (await res.Content.ReadFromJsonAsync(type, ct))!;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>
/// What the CLI reads from and sends to the controller, source-generated (Native AOT has no reflection
/// serializer). Enums are read by name or number: the controller writes a lease's kind as a number.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(List<RemoteBoard>))]
[JsonSerializable(typeof(List<Lease>))]
[JsonSerializable(typeof(Lease))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(ReserveBody))]
[JsonSerializable(typeof(RenewBody))]
[JsonSerializable(typeof(QueueBody))]
internal sealed partial class RemoteLabJsonContext : JsonSerializerContext;
