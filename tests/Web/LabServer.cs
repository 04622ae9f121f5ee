using System.Net;
using Farm.Tests.Spec;
using Farm.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Farm.Tests.Web;

/// <summary>A real farm serve (the lab API and dashboard on Kestrel at 127.0.0.1) over a temporary lab database, with a token per user.</summary>
sealed class LabServer : IAsyncDisposable
{
    WebApplication _app = null!;

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("farm-serve-").FullName;

    public Dictionary<string, string> Tokens { get; } = [];

    public Uri Url { get; private set; } = null!;

    public string LabDatabase => $"Data Source={Path.Combine(Directory, "lab.db")}";

    public static Task<LabServer> StartAsync(params (string User, ApiRole Role)[] users) => StartAsync(null, users);

    /// <summary>With options changed by <paramref name="configure"/> (HTTPS, a fake clock, anonymous metrics).</summary>
    public static async Task<LabServer> StartAsync(Func<LabApiOptions, LabApiOptions>? configure, params (string User, ApiRole Role)[] users)
    {
        var s = new LabServer();
        var file = Path.Combine(s.Directory, "tokens.yaml");
        foreach (var (user, role) in users) s.Tokens[user] = ApiTokens.Issue(file, user, role);
        // Tests about roles and hostile input send many bad tokens on purpose: the sign-in limit has its own test.
        var options = new LabApiOptions(Checkout.File("boards"), s.LabDatabase, s.Directory, null, ApiTokens.Load(file)) { SignInLimit = 100_000 };
        s._app = await LabApi.BuildAsync(configure is null ? options : configure(options), new IPEndPoint(IPAddress.Loopback, 0), default);
        await s._app.StartAsync();
        s.Url = new Uri(s._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return s;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
