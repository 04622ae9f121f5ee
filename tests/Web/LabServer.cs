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

    public static async Task<LabServer> StartAsync(params (string User, ApiRole Role)[] users)
    {
        var s = new LabServer();
        var file = Path.Combine(s.Directory, "tokens.yaml");
        foreach (var (user, role) in users) s.Tokens[user] = ApiTokens.Issue(file, user, role);
        s._app = await LabApi.BuildAsync(new LabApiOptions(Checkout.File("boards"), s.LabDatabase, s.Directory, null, ApiTokens.Load(file)),
            new IPEndPoint(IPAddress.Loopback, 0), default);
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
