using System.Net;
using System.Net.Sockets;
using Docker.DotNet;
using Farm.Build;

namespace Farm.Tests.Build;

/// <summary>
/// A container engine that stops answering is the lab failing (verdict incomplete, retry elsewhere),
/// never an unhandled TaskCanceledException out of `farm build`. The engine here is real TCP: a
/// listener that accepts the connection and never says a word, so Docker.DotNet's own timeout fires.
/// </summary>
public class ContainerEngineFaultTests
{
    [Test]
    public async Task AnEngineThatNeverAnswersIsAnInfrastructureFailureNamingTheStepAndImage()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var held = new List<Socket>();
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            try { while (true) held.Add(await listener.AcceptSocketAsync(stop.Token)); }
            catch (OperationCanceledException) { }
        });
        using var docker = new DockerClientConfiguration(new Uri($"tcp://127.0.0.1:{port}"), defaultTimeout: TimeSpan.FromMilliseconds(300)).CreateClient();
        var job = new ContainerJob("farm-xen-builder:bookworm", "true", [], "/out", new Dictionary<string, string>());

        var e = await Assert.ThrowsAsync<InfrastructureException>(() =>
            ContainerRun.RunAsync(docker, job, Path.GetTempPath(), _ => { }, TimeProvider.System, CancellationToken.None));
        Assert.That(e!.Message, Does.Contain("container engine: could not create a container (farm-xen-builder:bookworm)"));
        Assert.That(e.Message, Does.Contain("did not answer in time"));
        Assert.That(e.Verdict, Is.EqualTo(Verdict.Incomplete));

        var inspect = await Assert.ThrowsAsync<InfrastructureException>(() => ContainerRun.ImageIdAsync(docker, "farm-xen-builder:bookworm", CancellationToken.None));
        Assert.That(inspect!.Message, Does.Contain("could not inspect the image"));

        stop.Cancel();
        await accepting;
        foreach (var s in held) s.Dispose();
    }

    [Test]
    public void ACancellationTheCallerAskedForStaysACancellation()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.That(ContainerRun.EngineFault(new TaskCanceledException(), cts.Token), Is.False);
        Assert.That(ContainerRun.EngineFault(new TaskCanceledException(), CancellationToken.None), Is.True);
        Assert.That(ContainerRun.EngineFault(new DockerApiException(HttpStatusCode.BadRequest, "bad"), CancellationToken.None), Is.False, "a 4xx is Farm asking wrongly, not the lab failing");
        Assert.That(ContainerRun.EngineFault(new DockerApiException(HttpStatusCode.InternalServerError, "boom"), CancellationToken.None), Is.True);
        Assert.That(ContainerRun.EngineFault(new ConfigurationException("x"), CancellationToken.None), Is.False);
        Assert.That(ContainerRun.EngineFault(new IOException("reset", new System.Net.Sockets.SocketException()), CancellationToken.None), Is.True, "the engine's connection broke");
        Assert.That(ContainerRun.EngineFault(new HttpIOException(HttpRequestError.ResponseEnded), CancellationToken.None), Is.True);
        Assert.That(ContainerRun.EngineFault(new FileNotFoundException("input"), CancellationToken.None), Is.False, "a missing input file is not the engine's fault");
        Assert.That(ContainerRun.EngineFault(new IOException("No space left on device"), CancellationToken.None), Is.False, "a local disk error is not the engine's fault");
    }
}
