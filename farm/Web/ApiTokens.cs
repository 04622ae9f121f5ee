using System.Security.Cryptography;
using System.Text;
using YamlDotNet.RepresentationModel;

namespace Farm.Web;

/// <summary>What a token may do: read, also reserve and run, also administer boards.</summary>
public enum ApiRole { Viewer = 1, Developer = 2, Admin = 3 }

/// <summary>Who a token is.</summary>
public sealed record ApiUser(string Name, ApiRole Role);

/// <summary>
/// Bearer tokens from a tokens file (YAML, one entry per token: <c>- {user: alice, role: developer,
/// sha256: HEX}</c>). Only each token's SHA-256 is stored, so the file can be read by the service
/// and backed up without giving anyone access; <c>farm token</c> makes a token and appends its hash.
/// </summary>
public sealed partial class ApiTokens
{
    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex UserName();

    readonly Dictionary<string, ApiUser> _byHash;

    ApiTokens(Dictionary<string, ApiUser> byHash) => _byHash = byHash;

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public ApiUser? Find(string token) => _byHash.GetValueOrDefault(Hash(token));

    public static ApiTokens Load(string path)
    {
        if (!File.Exists(path)) throw new ConfigurationException($"tokens file {path} not found (make one with: farm token --user NAME --role admin --file {path})");
        var yaml = new YamlStream();
        try
        {
            Farm.Jobs.Spec.SpecReader.Load(yaml, File.ReadAllText(path));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new ConfigurationException($"{path}:{e.Start.Line}: {e.Message}", null, e);
        }
        var map = new Dictionary<string, ApiUser>(StringComparer.Ordinal);
        if (yaml.Documents.Count == 0) return new ApiTokens(map);
        if (yaml.Documents[0].RootNode is not YamlSequenceNode list)
            throw new ConfigurationException($"{path}: expected a list of tokens (- {{user: ..., role: ..., sha256: ...}})");
        foreach (var item in list.Children.OfType<YamlMappingNode>())
        {
            string? Get(string k) => item.Children.TryGetValue(new YamlScalarNode(k), out var v) ? (v as YamlScalarNode)?.Value : null;
            var (user, role, hash) = (Get("user"), Get("role"), Get("sha256"));
            if (user is null || hash is null || !Enum.TryParse<ApiRole>(role, ignoreCase: true, out var r))
                throw new ConfigurationException($"{path}:{item.Start.Line}: a token needs user, role (viewer, developer, admin) and sha256");
            map[hash.ToLowerInvariant()] = new ApiUser(user, r);
        }
        return new ApiTokens(map);
    }

    /// <summary>Makes a new random token, appends its hash to <paramref name="path"/>, returns the token (shown once).</summary>
    public static string Issue(string path, string user, ApiRole role)
    {
        // The name is written into YAML: "eve}\n- {user: mallory, role: admin" must not become a second entry.
        if (!UserName().IsMatch(user))
            throw new ConfigurationException($"--user: \"{Farm.Web.LabApi.Clip(user)}\" is not a user name (letters, digits, '.', '_', '-', '@'; at most 64)");
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.AppendAllText(path, $"- {{user: {user}, role: {role.ToString().ToLowerInvariant()}, sha256: {Hash(token)}}}\n");
        return token;
    }
}
