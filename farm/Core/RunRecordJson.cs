using System.Text.Json;
using System.Text.Json.Serialization;

namespace Farm;

/// <summary>
/// The JSON shape of a <see cref="RunRecord"/>, as run.json, the run store and the lab API carry it:
/// camelCase, durations in seconds, verdicts as their wire names, nulls left out. With the record
/// in Core, so the store and the API read runs without knowing the reports that write them.
/// </summary>
internal static class RunRecordJson
{
    // Everything (naming, enums by their JsonStringEnumMemberName, seconds) is source-generated:
    // no reflection warm-up on the run's critical path (see ci/bench).
    public static JsonSerializerOptions Options { get; } = RunJsonContext.Default.Options;

    /// <summary>Durations and timeouts as seconds (a number people and dashboards can read).</summary>
    internal sealed class SecondsConverter : JsonConverter<TimeSpan>
    {
        public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            TimeSpan.FromSeconds(reader.GetDouble());

        public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options) =>
            writer.WriteNumberValue(Math.Round(value.TotalSeconds, 3));
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true,
    Converters = [typeof(RunRecordJson.SecondsConverter)])]
[JsonSerializable(typeof(RunRecord))]
[JsonSerializable(typeof(IReadOnlyList<CheckResult>))]
internal sealed partial class RunJsonContext : JsonSerializerContext;

