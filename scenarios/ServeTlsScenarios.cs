using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Farm.Scenarios;

/// <summary>
/// The real <c>farm serve</c> process over HTTPS with a certificate and key made here as PEM files, a
/// token made and then revoked with the real <c>farm token</c> while the server runs (issue 15, item 5).
/// </summary>
[Category("Web")]
[NonParallelizable]
public class ServeTlsScenarios
{
    [Test]
    public async Task ServeOverHttpsAndATokenRevokedWhileItRuns()
    {
        var dir = Directory.CreateTempSubdirectory("farm-serve-tls-").FullName;
        Process? serve = null;
        var log = new StringBuilder();
        try
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var req = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            req.CertificateExtensions.Add(san.Build());
            using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            File.WriteAllText(Path.Combine(dir, "lab.crt"), cert.ExportCertificatePem());
            File.WriteAllText(Path.Combine(dir, "lab.key"), key.ExportPkcs8PrivateKeyPem());
            var db = $"Data Source={Path.Combine(dir, "lab.db")}";

            var made = await FarmCli.RunAsync(["token", "--user", "ci", "--role", "viewer", "--db", db, "--file", Path.Combine(dir, "tokens.yaml"), "--expires", "30d"], TimeSpan.FromMinutes(2));
            Assert.That(made.Code, Is.Zero, made.StdErr);
            var token = made.StdOut.Trim();
            Assert.That(made.StdErr, Does.Contain("token id "));

            int port;
            using (var l = new TcpListener(IPAddress.Loopback, 0)) { l.Start(); port = ((IPEndPoint)l.LocalEndpoint).Port; }
            serve = Process.Start(new ProcessStartInfo(FarmCli.Path, ["serve", "--listen", $"127.0.0.1:{port}", "--tokens", Path.Combine(dir, "tokens.yaml"), "--out", dir,
                "--lab", Path.Combine(ScenarioArtifacts.RepoRoot, "boards"), "--db", db, "--tls-cert", Path.Combine(dir, "lab.crt"), "--tls-key", Path.Combine(dir, "lab.key")])
            { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir })!;
            serve.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            serve.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            serve.BeginOutputReadLine();
            serve.BeginErrorReadLine();

            using var http = new HttpClient(new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, CustomTrustStore = { X509CertificateLoader.LoadCertificate(cert.RawData) }, RevocationMode = X509RevocationMode.NoCheck },
                },
            }) { BaseAddress = new Uri($"https://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            bool up = false;
            for (int i = 0; i < 300 && !up && !serve.HasExited; i++)
            {
                try { up = (await http.GetAsync("/healthz")).IsSuccessStatusCode; }
                catch (HttpRequestException) { await Task.Delay(200); }
            }
            Assert.That(up, Is.True, "farm serve did not answer https /healthz:\n" + log);
            Assert.That(log.ToString(), Does.Contain($"https://127.0.0.1:{port}/api"));

            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var boards = await http.GetAsync("/api/boards");
            Assert.That(boards.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(boards.Headers.CacheControl?.NoStore, Is.True);
            Assert.That((await http.GetAsync("/metrics")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "a token scrapes /metrics");

            var revoked = await FarmCli.RunAsync(["token", "--revoke", "ci", "--db", db], TimeSpan.FromMinutes(2));
            Assert.That(revoked.Code, Is.Zero, revoked.StdErr);
            Assert.That((await http.GetAsync("/api/boards")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "revoked without restarting farm serve");
            Assert.That(log.ToString(), Does.Contain("failed sign-in from 127.0.0.1"), "the refused token is logged");
            Assert.That(log.ToString(), Does.Not.Contain(token), "the token is never logged");
        }
        finally
        {
            if (serve is { HasExited: false })
            {
                serve.Kill(entireProcessTree: true);
                await serve.WaitForExitAsync();
            }
            serve?.Dispose();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }
}
