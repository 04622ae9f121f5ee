using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Farm.Lab.Leases;
using Farm.Lab.Queue;

namespace Farm.Web;

// The lab API's answers, as named records: the source generator cannot see anonymous types. Each keeps
// the shape the API has always had (camelCase names in this order, nulls written), since RemoteLab,
// the dashboard's scripts and people's scripts read it.

/// <summary><c>{"error": ...}</c>: every refusal and failure.</summary>
internal sealed record ApiError(string Error);

/// <summary>A reservation refused: why, and the lease that holds the board.</summary>
internal sealed record LeaseConflict(string Error, Lease Lease);

/// <summary>How many console bytes the controller has for a run's board.</summary>
internal sealed record ConsoleLength(long Length);

/// <summary>A console chunk refused, with how many bytes the controller has (where the agent resumes).</summary>
internal sealed record ConsoleRefused(string Error, long Length);

/// <summary>One board in <c>GET /api/boards</c>; mode and health are lower-case words.</summary>
internal sealed record BoardJson(string Name, string Type, string Kind, string Mode, IReadOnlyList<string> Tags,
    string Health, string HealthReason, IReadOnlyList<string> Evidence, string Power, string Console, BoardLeaseJson? Lease, BoardRunJson? LastRun);

internal sealed record BoardLeaseJson(string Holder, DateTimeOffset Until, string? Note);

internal sealed record BoardRunJson(string RunId, string Verdict, string Job, DateTimeOffset Start);

/// <summary>One run in <c>GET /api/runs</c>: the verdict's wire name, the duration in seconds.</summary>
internal sealed record RunSummaryJson(string RunId, string Job, string Board, string Verdict, DateTimeOffset Start, double Seconds, string? Message);

/// <summary>
/// Every type the lab API reads or writes, source-generated: Native AOT has no reflection serializer.
/// ASP.NET resolves bodies and <c>Results.Ok(x)</c> through it (LabApi.BuildAsync puts it first in
/// the HTTP JSON options); direct writes use <see cref="Wire"/>. Enums are numbers (a lease's kind
/// is 0 or 1), as ASP.NET's default options always wrote them; RemoteLab reads numbers and names.
/// Collections are answered as arrays: ASP.NET looks up a non-sealed value's runtime type, which
/// would be an iterator or a list type this context does not know.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ReserveBody))]
[JsonSerializable(typeof(RenewBody))]
[JsonSerializable(typeof(ReasonBody))]
[JsonSerializable(typeof(QueueBody))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(LeaseConflict))]
[JsonSerializable(typeof(ConsoleLength))]
[JsonSerializable(typeof(ConsoleRefused))]
[JsonSerializable(typeof(BoardJson[]))]
[JsonSerializable(typeof(RunSummaryJson[]))]
[JsonSerializable(typeof(Lease))]
[JsonSerializable(typeof(Lease[]))]
[JsonSerializable(typeof(QueuedJob))]
[JsonSerializable(typeof(QueuedJob[]))]
// The web pages' plain-text refusals (Results.NotFound("no run ...")) are JSON strings.
[JsonSerializable(typeof(string))]
internal sealed partial class LabApiJsonContext : JsonSerializerContext
{
    /// <summary>
    /// The context with ASP.NET's own options: Web defaults and its relaxed escaping (an answer is
    /// never embedded in a page), so what LabApi writes itself reads <c>\"board\"</c> and <c>é</c>
    /// exactly as what ASP.NET writes, and as the API always did.
    /// </summary>
    public static LabApiJsonContext Wire { get; } = new(new JsonSerializerOptions(JsonSerializerDefaults.Web) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
