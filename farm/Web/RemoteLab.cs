using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Farm.Lab.Leases;

namespace Farm.Web;

/// <summary>A board as the controller lists it (what the CLI needs to pick one by tags).</summary>
public sealed record RemoteBoard(string Name, IReadOnlyList<string> Tags);

/// <summary>
/// The CLI's side of the lab API (<c>farm reserve ... --server URL --token T</c>, or FARM_SERVER and
/// FARM_TOKEN): the same operations as on the lab database, through a controller that decides who
/// the caller is from the token. A refused token or role is bad input (error); an unreachable
/// controller is the lab's fault (incomplete).
/// </summary>
public sealed class RemoteLab : IDisposable
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };
    readonly HttpClient _http;
    readonly string _server;

    public RemoteLab(string server, string token, HttpMessageHandler? handler = null)
    {
        _server = server.TrimEnd('/');
        _http = new HttpClient(handler ?? new SocketsHttpHandler()) { BaseAddress = new Uri(_server + "/"), Timeout = TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public async Task<IReadOnlyList<RemoteBoard>> BoardsAsync(CancellationToken ct) =>
        await ReadAsync<List<RemoteBoard>>(await SendAsync(HttpMethod.Get, "api/boards", null, ct), ct);

    public async Task<IReadOnlyList<Lease>> ActiveAsync(CancellationToken ct) =>
        await ReadAsync<List<Lease>>(await SendAsync(HttpMethod.Get, "api/leases", null, ct), ct);

    public async Task<LeaseGrant> AcquireAsync(string board, TimeSpan span, string? note, CancellationToken ct)
    {
        using var res = await SendAsync(HttpMethod.Post, "api/leases", new ReserveBody(board, $"{(long)span.TotalSeconds}s", note), ct, HttpStatusCode.Conflict);
        if (res.StatusCode == HttpStatusCode.Conflict)
        {
            var body = await res.Content.ReadFromJsonAsync<JsonElement>(ct);
            return new LeaseGrant(false, body.GetProperty("lease").Deserialize<Lease>(Json)!);
        }
        return new LeaseGrant(true, await ReadAsync<Lease>(res, ct));
    }

    /// <summary>Renews the caller's lease; <see cref="InfrastructureException"/> when it was lost.</summary>
    public async Task<Lease> RenewAsync(string board, TimeSpan span, CancellationToken ct)
    {
        using var res = await SendAsync(HttpMethod.Post, $"api/leases/{Uri.EscapeDataString(board)}/renew", new RenewBody($"{(long)span.TotalSeconds}s"), ct, HttpStatusCode.Conflict);
        if (res.StatusCode == HttpStatusCode.Conflict) throw new InfrastructureException(await ErrorAsync(res, ct));
        return await ReadAsync<Lease>(res, ct);
    }

    public async Task<bool> ReleaseAsync(string board, CancellationToken ct)
    {
        using var res = await SendAsync(HttpMethod.Delete, $"api/leases/{Uri.EscapeDataString(board)}", null, ct, HttpStatusCode.Conflict);
        return res.StatusCode == HttpStatusCode.NoContent;
    }

    public async Task<JsonElement> QueueAsync(string job, string? board, int priority, CancellationToken ct) =>
        await ReadAsync<JsonElement>(await SendAsync(HttpMethod.Post, "api/jobs", new QueueBody(job, board, priority), ct), ct);

    async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body, CancellationToken ct, params HttpStatusCode[] alsoFine)
    {
        using var req = new HttpRequestMessage(method, path);
        if (body is not null) req.Content = JsonContent.Create(body, body.GetType(), options: Json);
        HttpResponseMessage res;
        try { res = await _http.SendAsync(req, ct).ConfigureAwait(false); }
        catch (HttpRequestException e) { throw new InfrastructureException($"controller {_server}: {e.Message}", null, e); }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested) { throw new InfrastructureException($"controller {_server}: no answer in 30 s", null, e); }
        if (res.IsSuccessStatusCode || alsoFine.Contains(res.StatusCode)) return res;
        var error = await ErrorAsync(res, ct);
        res.Dispose();
        throw (int)res.StatusCode is 401 or 403 or 400 or 404
            ? new ConfigurationException($"controller {_server}: {(int)res.StatusCode} {error}")
            : new InfrastructureException($"controller {_server}: {(int)res.StatusCode} {error}");
    }

    static async Task<string> ErrorAsync(HttpResponseMessage res, CancellationToken ct)
    {
        var text = await res.Content.ReadAsStringAsync(ct);
        try { return JsonDocument.Parse(text).RootElement.GetProperty("error").GetString() ?? text; }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { return text; }
    }

    static async Task<T> ReadAsync<T>(HttpResponseMessage res, CancellationToken ct)
    {
        using (res) return (await res.Content.ReadFromJsonAsync<T>(Json, ct))!;
    }

    public void Dispose() => _http.Dispose();
}
