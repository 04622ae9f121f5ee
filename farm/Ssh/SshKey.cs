using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Farm.Ssh;

/// <summary>
/// A per-run ECDSA P-256 key pair made in process (no ssh-keygen). The public half travels to the
/// target on its kernel command line (<c>farm.sshkey=ecdsa-sha2-nistp256:BASE64</c>), so the
/// initramfs holds no key and stays reproducible, and no key outlives its run.
/// </summary>
internal sealed class SshKey : IDisposable
{
    const string Type = "ecdsa-sha2-nistp256";
    readonly ECDsa _key;

    public SshKey() => _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    SshKey(ECDsa key) => _key = key;

    /// <summary>A key saved earlier (a boot snapshot keeps the key its dom0 accepts).</summary>
    public static SshKey FromPem(string pem)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new ConfigurationException($"not an EC private key in PEM form: {e.Message}", null, e);
        }
        return new SshKey(key);
    }

    /// <summary>SEC1 PEM ("BEGIN EC PRIVATE KEY"), which SSH.NET's PrivateKeyFile reads.</summary>
    public string PrivateKeyPem => _key.ExportECPrivateKeyPem();

    /// <summary>RFC 5656 §3.1 public key blob: string type, string "nistp256", string Q (0x04||X||Y).</summary>
    public string PublicKeyBase64
    {
        get
        {
            var p = _key.ExportParameters(false);
            byte[] q = [0x04, .. p.Q.X!, .. p.Q.Y!];
            using var ms = new MemoryStream();
            foreach (var part in new[] { Encoding.ASCII.GetBytes(Type), "nistp256"u8.ToArray(), q })
            {
                Span<byte> len = stackalloc byte[4];
                BinaryPrimitives.WriteInt32BigEndian(len, part.Length);
                ms.Write(len);
                ms.Write(part);
            }
            return Convert.ToBase64String(ms.ToArray());
        }
    }

    public string AuthorizedKeysLine => $"{Type} {PublicKeyBase64} farm";

    /// <summary>The kernel command-line form the guest /init turns into authorized_keys.</summary>
    public string KernelParameter => $"farm.sshkey={Type}:{PublicKeyBase64}";

    public void Dispose() => _key.Dispose();
}
