using System.Security.Cryptography;
using System.Text;
using YamlDotNet.RepresentationModel;

namespace Farm.Web;

/// <summary>What a token may do: read, also reserve and run, also administer boards.</summary>
internal enum ApiRole { Viewer = 1, Developer = 2, Admin = 3 }

/// <summary>Who a token is.</summary>
internal sealed record ApiUser(string Name, ApiRole Role);

/// <summary>One token of a tokens file: its hash, who it is, and when it stops working (null: never).</summary>
internal sealed record TokenEntry(string Sha256, ApiUser User, DateTimeOffset? Expires);

/// <summary>
/// Bearer tokens from a tokens file (YAML, one entry per token: <c>- {user: alice, role: developer,
/// sha256: HEX}</c>). Only each token's SHA-256 is stored, so the file can be read by the service
/// and backed up without giving anyone access; <c>farm token</c> makes a token and appends its hash.
/// An entry may carry <c>expires: 2027-01-31T00:00:00Z</c>. <c>farm serve</c> imports the file into
/// the lab database (<see cref="TokenStore"/>), which is what requests are checked against, so a
/// token can be revoked there without a restart.
/// </summary>
internal sealed partial class ApiTokens
{
    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex UserName();

    readonly Dictionary<string, TokenEntry> _byHash;

    ApiTokens(Dictionary<string, TokenEntry> byHash) => _byHash = byHash;

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>A token's short id (the first 12 hex digits of its hash): names it for --revoke and in lists without revealing it.</summary>
    public static string Id(string sha256) => sha256[..12];

    /// <summary>Who the token is, by the file alone (no expiry or revocation: <see cref="TokenStore"/> decides those).</summary>
    public ApiUser? Find(string token) => _byHash.GetValueOrDefault(Hash(token))?.User;

    public IReadOnlyCollection<TokenEntry> Entries => _byHash.Values;

    static bool IsUserName(string user) => UserName().IsMatch(user);

    internal static void CheckUserName(string user)
    {
        if (!IsUserName(user))
            throw new ConfigurationException($"--user: \"{Farm.Web.LabApi.Clip(user)}\" is not a user name (letters, digits, '.', '_', '-', '@'; at most 64)");
    }

    /// <summary>A new random token (256 bits, URL-safe).</summary>
    /// <remarks>
    /// Base64url of 32 random bytes, behind a fixed "farm_" prefix. Without it one token in 64 began
    /// with '-', and `farm ... --token -x...` then parsed it as an option ("Short option does not have
    /// a valid name"). The prefix also lets secret scanners recognise a leaked Farm token.
    /// </remarks>
    public static string NewToken() => "farm_" + System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public static ApiTokens Load(string path)
    {
        if (!File.Exists(path)) throw new ConfigurationException($"tokens file {path} not found (make one with: farm token --user NAME --role admin --file {path})");
        var yaml = new YamlStream();
        try
        {
            Farm.Spec.SpecReader.Load(yaml, File.ReadAllText(path));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new ConfigurationException($"{path}:{e.Start.Line}: {e.Message}", null, e);
        }
        var map = new Dictionary<string, TokenEntry>(StringComparer.Ordinal);
        if (yaml.Documents.Count == 0) return new ApiTokens(map);
        if (yaml.Documents[0].RootNode is not YamlSequenceNode list)
            throw new ConfigurationException($"{path}: expected a list of tokens (- {{user: ..., role: ..., sha256: ...}})");
        foreach (var item in list.Children.OfType<YamlMappingNode>())
        {
            string? Get(string k) => item.Children.TryGetValue(new YamlScalarNode(k), out var v) ? (v as YamlScalarNode)?.Value : null;
            var (user, role, hash, expires) = (Get("user"), Get("role"), Get("sha256"), Get("expires"));
            if (user is null || hash is null || !Enum.TryParse<ApiRole>(role, ignoreCase: true, out var r))
                throw new ConfigurationException($"{path}:{item.Start.Line}: a token needs user, role (viewer, developer, admin) and sha256");
            if (hash.Length != 64 || !hash.All(Uri.IsHexDigit))
                throw new ConfigurationException($"{path}:{item.Start.Line}: sha256 must be 64 hex digits");
            DateTimeOffset? until = null;
            if (expires is not null)
            {
                if (!DateTimeOffset.TryParse(expires, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var e))
                    throw new ConfigurationException($"{path}:{item.Start.Line}: expires: \"{Farm.Web.LabApi.Clip(expires)}\" is not a time (e.g. 2027-01-31T00:00:00Z)");
                until = e;
            }
            map[hash.ToLowerInvariant()] = new TokenEntry(hash.ToLowerInvariant(), new ApiUser(user, r), until);
        }
        return new ApiTokens(map);
    }

    /// <summary>Makes a new random token, appends its hash to <paramref name="path"/>, returns the token (shown once).</summary>
    public static string Issue(string path, string user, ApiRole role, DateTimeOffset? expires = null)
    {
        // The name is written into YAML: "eve}\n- {user: mallory, role: admin" must not become a second entry.
        CheckUserName(user);
        var token = NewToken();
        Append(path, new TokenEntry(Hash(token), new ApiUser(user, role), expires));
        return token;
    }

    /// <summary>Appends one entry (a hash, never the token) to a tokens file.</summary>
    public static void Append(string path, TokenEntry e)
    {
        CheckUserName(e.User.Name);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var until = e.Expires is { } x ? $", expires: '{x.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}'" : "";
        File.AppendAllText(path, $"- {{user: {e.User.Name}, role: {e.User.Role.ToString().ToLowerInvariant()}, sha256: {e.Sha256}{until}}}\n");
    }
}
