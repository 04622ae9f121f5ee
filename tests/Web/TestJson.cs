using System.Text.Json;
using System.Text.Json.Serialization;
using Farm.Web;

namespace Farm.Tests.Web;

/// <summary>
/// The request bodies the tests send, as a client would write them (camelCase, Web defaults),
/// source-generated: the build has no reflection JSON. The tests' own, not the API's context,
/// so a change to the API's wire shape still shows here.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ReserveBody))]
[JsonSerializable(typeof(RenewBody))]
[JsonSerializable(typeof(ReasonBody))]
[JsonSerializable(typeof(QueueBody))]
[JsonSerializable(typeof(string))]
sealed partial class TestJson : JsonSerializerContext;
