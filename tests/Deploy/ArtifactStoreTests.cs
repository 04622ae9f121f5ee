using System.Security.Cryptography;
using System.Text;
using Farm.Deploy;

namespace Farm.Tests.Deploy;

public class ArtifactStoreTests
{
    string _dir = "";

    [SetUp]
    public async Task SetUp()
    {
        Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "farm-art-" + Guid.NewGuid().ToString("N")));
        var manifest = new StringBuilder("suite=bookworm\nxen-hypervisor-4.17-arm64=4.17.7\n");
        foreach (var name in new[] { "xen", "vmlinuz", "initrd.cpio.gz" })
        {
            var bytes = Encoding.UTF8.GetBytes($"contents of {name}\n");
            await File.WriteAllBytesAsync(Path.Combine(_dir, name), bytes);
            manifest.Append($"{Convert.ToHexStringLower(SHA256.HashData(bytes))}  {name}\n");
        }
        await File.WriteAllTextAsync(Path.Combine(_dir, "MANIFEST"), manifest.ToString());
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task LoadsHashesAndPackageVersionsFromTheManifest()
    {
        var set = await ArtifactStore.LoadAsync(_dir, needXen: true, CancellationToken.None);
        Assert.That(set.Sha256.Keys, Is.EquivalentTo(new[] { "xen", "vmlinuz", "initrd.cpio.gz" }));
        Assert.That(set.Manifest["xen-hypervisor-4.17-arm64"], Is.EqualTo("4.17.7"));
    }

    [Test]
    public async Task ACorruptedArtifactIsAnErrorNamingItEvenAfterAVerifiedRun()
    {
        await ArtifactStore.LoadAsync(_dir, needXen: true, CancellationToken.None);
        var path = Path.Combine(_dir, "vmlinuz");
        var mtime = File.GetLastWriteTimeUtc(path);
        await File.WriteAllTextAsync(path, "contents of vmlinuX\n");      // same size...
        File.SetLastWriteTimeUtc(path, mtime.AddSeconds(1));               // ...but touched
        var e = await Assert.ThrowsAsync<ConfigurationException>(() => ArtifactStore.LoadAsync(_dir, needXen: true, CancellationToken.None));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("corrupted").And.Contain("ci/artifacts.sh"));
    }

    [Test]
    public async Task AnUnchangedArtifactIsNotReadAgain()
    {
        await ArtifactStore.LoadAsync(_dir, needXen: true, CancellationToken.None);
        // Make the cached hash lie while the file keeps its size and time: only a cache hit can
        // produce the lie, so seeing it proves the file was not re-hashed.
        var cache = Path.Combine(_dir, ".vmlinuz.verified");
        var parts = (await File.ReadAllTextAsync(cache)).Split(' ');
        await File.WriteAllTextAsync(cache, $"{parts[0]} {parts[1]} {new string('0', 64)}");
        var e = await Assert.ThrowsAsync<ConfigurationException>(() => ArtifactStore.LoadAsync(_dir, needXen: true, CancellationToken.None));
        Assert.That(e!.Message, Does.Contain("sha256 " + new string('0', 64)));
    }

    [Test]
    public async Task MissingArtifactSetSaysHowToBuildIt()
    {
        var e = await Assert.ThrowsAsync<ConfigurationException>(() => ArtifactStore.LoadAsync(Path.Combine(_dir, "nope"), needXen: true, CancellationToken.None));
        Assert.That(e!.Message, Does.Contain("artifact set not found").And.Contain("ci/artifacts.sh"));
    }
}
