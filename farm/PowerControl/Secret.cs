namespace Farm.PowerControl;

/// <summary>
/// Where a credential comes from, as written in a lab file: <c>env:NAME</c> (an environment
/// variable) or <c>file:/path</c> (a secrets file, first line). Lab files never hold the secret
/// itself, so they can be committed; the value never enters a message or a log.
/// </summary>
internal static class Secret
{
    public static string Resolve(string reference, string usedFor)
    {
        if (reference.StartsWith("env:", StringComparison.Ordinal))
        {
            var name = reference[4..];
            return Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v
                : throw new ConfigurationException($"{usedFor}: environment variable {name} is not set");
        }
        if (reference.StartsWith("file:", StringComparison.Ordinal))
        {
            var path = reference[5..];
            try
            {
                return File.ReadLines(path).FirstOrDefault()?.TrimEnd('\r') is { Length: > 0 } v ? v
                    : throw new ConfigurationException($"{usedFor}: secrets file {path} is empty");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ConfigurationException($"{usedFor}: cannot read secrets file {path}: {e.Message}", null, e);
            }
        }
        throw new ConfigurationException($"{usedFor}: a credential is written env:NAME or file:/path, never inline");
    }
}
