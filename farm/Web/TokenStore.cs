using Farm.Lab;

namespace Farm.Web;

/// <summary>A token as <c>farm token --list</c> shows it: its id (not the token), who, and its state.</summary>
internal sealed record TokenInfo(string Id, string User, ApiRole Role, DateTimeOffset Created, DateTimeOffset? Expires, DateTimeOffset? Revoked);

/// <summary>
/// The lab's bearer tokens in the lab database (<c>api_tokens</c>): only each token's SHA-256, its
/// user and role, when it expires and when it was revoked. Every request is checked here, so
/// <c>farm token --revoke</c> takes effect on the next request without restarting <c>farm serve</c>.
/// A tokens file (<see cref="ApiTokens"/>) is imported at start; importing never revives a revoked token.
/// </summary>
internal sealed class TokenStore(LabDatabase db, TimeProvider time)
{
    /// <summary>Shortest id prefix --revoke accepts (48 bits: no accidental match among a lab's tokens).</summary>
    public const int MinIdLength = 8;

    /// <summary>Adds the file's tokens that the database does not know yet.</summary>
    public Task ImportAsync(ApiTokens file, CancellationToken ct) => db.RunAsync(async t =>
    {
        await using var c = await db.ConnectAsync(t);
        await using var tx = await c.BeginTransactionAsync(t);
        foreach (var e in file.Entries)
            await InsertAsync(c, tx, e, t);
        await tx.CommitAsync(t);
        return 0;
    }, ct);

    /// <summary>Makes a token (returned once; only its hash is kept) for <paramref name="user"/>.</summary>
    public async Task<(string Token, TokenEntry Entry)> IssueAsync(string user, ApiRole role, DateTimeOffset? expires, CancellationToken ct)
    {
        ApiTokens.CheckUserName(user);
        var token = ApiTokens.NewToken();
        var entry = new TokenEntry(ApiTokens.Hash(token), new ApiUser(user, role), expires);
        await db.RunAsync(async t =>
        {
            await using var c = await db.ConnectAsync(t);
            await InsertAsync(c, null, entry, t);
            return 0;
        }, ct).ConfigureAwait(false);
        return (token, entry);
    }

    async Task InsertAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction? tx, TokenEntry e, CancellationToken t)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO api_tokens (sha256, api_user, role, created_ms, expires_ms) VALUES (@h, @u, @r, @at, @until) ON CONFLICT (sha256) DO NOTHING";
        LabDatabase.Param(cmd, "@h", e.Sha256);
        LabDatabase.Param(cmd, "@u", e.User.Name);
        LabDatabase.Param(cmd, "@r", e.User.Role.ToString().ToLowerInvariant());
        LabDatabase.Param(cmd, "@at", time.GetUtcNow().ToUnixTimeMilliseconds());
        LabDatabase.Param(cmd, "@until", e.Expires?.ToUnixTimeMilliseconds());
        await cmd.ExecuteNonQueryAsync(t);
    }

    /// <summary>Who the token is, or null: unknown, expired or revoked.</summary>
    public Task<ApiUser?> FindAsync(string token, CancellationToken ct) => FindByHashAsync(ApiTokens.Hash(token), ct);

    public Task<ApiUser?> FindByHashAsync(string sha256, CancellationToken ct) => db.RunAsync(async t =>
    {
        await using var c = await db.ConnectAsync(t);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT api_user, role FROM api_tokens WHERE sha256 = @h AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > @now)";
        LabDatabase.Param(cmd, "@h", sha256);
        LabDatabase.Param(cmd, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        await using var r = await cmd.ExecuteReaderAsync(t);
        return await r.ReadAsync(t) && Enum.TryParse<ApiRole>(r.GetString(1), ignoreCase: true, out var role) ? new ApiUser(r.GetString(0), role) : null;
    }, ct);

    /// <summary>
    /// Revokes every live token of user <paramref name="userOrId"/>, or the one token whose id starts with it
    /// (at least <see cref="MinIdLength"/> hex digits). Returns how many were revoked; their web sessions end too.
    /// </summary>
    public Task<int> RevokeAsync(string userOrId, CancellationToken ct) => db.RunAsync(async t =>
    {
        await using var c = await db.ConnectAsync(t);
        await using var tx = await c.BeginTransactionAsync(t);
        var byId = userOrId.Length >= MinIdLength && userOrId.All(Uri.IsHexDigit);
        var where = byId ? "sha256 LIKE @k" : "api_user = @k";
        var key = byId ? userOrId.ToLowerInvariant() + "%" : userOrId;
        await using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = $"DELETE FROM web_sessions WHERE token_sha256 IN (SELECT sha256 FROM api_tokens WHERE {where})";
            LabDatabase.Param(cmd, "@k", key);
            await cmd.ExecuteNonQueryAsync(t);
        }
        int n;
        await using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = $"UPDATE api_tokens SET revoked_ms = @now WHERE {where} AND revoked_ms IS NULL";
            LabDatabase.Param(cmd, "@k", key);
            LabDatabase.Param(cmd, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
            n = await cmd.ExecuteNonQueryAsync(t);
        }
        await tx.CommitAsync(t);
        return n;
    }, ct);

    public Task<IReadOnlyList<TokenInfo>> ListAsync(CancellationToken ct) => db.RunAsync<IReadOnlyList<TokenInfo>>(async t =>
    {
        await using var c = await db.ConnectAsync(t);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT sha256, api_user, role, created_ms, expires_ms, revoked_ms FROM api_tokens ORDER BY api_user, created_ms";
        await using var r = await cmd.ExecuteReaderAsync(t);
        var list = new List<TokenInfo>();
        static DateTimeOffset? At(System.Data.Common.DbDataReader r, int i) => r.IsDBNull(i) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));
        while (await r.ReadAsync(t))
            list.Add(new TokenInfo(ApiTokens.Id(r.GetString(0)), r.GetString(1), Enum.Parse<ApiRole>(r.GetString(2), ignoreCase: true),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)), At(r, 4), At(r, 5)));
        return list;
    }, ct);
}

/// <summary>
/// The dashboard's sign-ins: the cookie carries a random session id, never the bearer token; the
/// database keeps only the id's SHA-256, the token it was opened with (so revoking the token ends
/// the session) and when it ends.
/// </summary>
internal sealed class WebSessions(LabDatabase db, TokenStore tokens, TimeProvider time)
{
    /// <summary>How long a sign-in lasts.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    /// <summary>Opens a session for a valid token; returns its id (the cookie's value).</summary>
    public async Task<string> OpenAsync(string token, CancellationToken ct)
    {
        var id = ApiTokens.NewToken();
        await db.RunAsync(async t =>
        {
            await using var c = await db.ConnectAsync(t);
            await using var cmd = c.CreateCommand();
            var now = time.GetUtcNow();
            // Ended sessions go as new ones come, so the table stays the size of the live ones.
            cmd.CommandText = "DELETE FROM web_sessions WHERE expires_ms <= @now; INSERT INTO web_sessions (sha256, token_sha256, created_ms, expires_ms) VALUES (@h, @tok, @now, @until)";
            LabDatabase.Param(cmd, "@h", ApiTokens.Hash(id));
            LabDatabase.Param(cmd, "@tok", ApiTokens.Hash(token));
            LabDatabase.Param(cmd, "@now", now.ToUnixTimeMilliseconds());
            LabDatabase.Param(cmd, "@until", (now + Lifetime).ToUnixTimeMilliseconds());
            return await cmd.ExecuteNonQueryAsync(t);
        }, ct).ConfigureAwait(false);
        return id;
    }

    /// <summary>Who the session is, or null: unknown, ended, or its token expired or was revoked.</summary>
    public async Task<ApiUser?> FindAsync(string sessionId, CancellationToken ct)
    {
        if (sessionId.Length is 0 or > 100) return null;
        var token = await db.RunAsync(async t =>
        {
            await using var c = await db.ConnectAsync(t);
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT token_sha256 FROM web_sessions WHERE sha256 = @h AND expires_ms > @now";
            LabDatabase.Param(cmd, "@h", ApiTokens.Hash(sessionId));
            LabDatabase.Param(cmd, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
            return await cmd.ExecuteScalarAsync(t) as string;
        }, ct).ConfigureAwait(false);
        return token is null ? null : await tokens.FindByHashAsync(token, ct).ConfigureAwait(false);
    }

    public Task CloseAsync(string sessionId, CancellationToken ct) => db.RunAsync(async t =>
    {
        await using var c = await db.ConnectAsync(t);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "DELETE FROM web_sessions WHERE sha256 = @h";
        LabDatabase.Param(cmd, "@h", ApiTokens.Hash(sessionId));
        return await cmd.ExecuteNonQueryAsync(t);
    }, ct);
}
