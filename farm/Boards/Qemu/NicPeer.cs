namespace Farm.Boards.Qemu;

/// <summary>
/// The far end of a QEMU board's e1000e network, for the guest NIC probe (<c>FARM-PROBE nic-tcp</c>,
/// farm/Checks/Catalog/Guest.cs). The e1000e's user network is restricted (no way out of QEMU), but forwards
/// each TCP connection to <see cref="Address"/>:<see cref="Port"/> to <see cref="ScriptFile"/> (QEMU
/// <c>guestfwd=...-cmd:</c>), the connection on its stdin and stdout. The script takes one HTTP POST (what the
/// guest's busybox <c>wget --post-file</c> sends: the guest initramfs has no nc), answers with
/// <see cref="ReplyBytes"/> random bytes of its own, and appends both ends' sums to <see cref="LogFile"/> beside
/// the board's console log, in the probe's format (<c>received &lt;sha256&gt; &lt;bytes&gt;</c>, <c>sent ...</c>).
/// A body over <see cref="MaxBytes"/>, or a length that is no number, is read as empty.
/// </summary>
internal static class NicPeer
{
    public const string Address = "10.0.2.100";
    public const int Port = 5201;
    public const string ScriptFile = "nic-peer.sh";
    public const string LogFile = "nic-peer.log";
    public const long MaxBytes = 64L << 20;
    public const long ReplyBytes = 4L << 20;

    /// <summary>The guestfwd rule for the e1000e's netdev (QEMU doubles a comma inside an option value).</summary>
    public static string GuestForward(string script) => $"guestfwd=tcp:{Address}:{Port}-cmd:/bin/sh {script.Replace(",", ",,")}";

    /// <summary>The script, for dash or any POSIX sh (whose <c>read</c> takes a pipe byte by byte, so the body stays unread).</summary>
    public static string Script(string boardDirectory) => $$"""
        #!/bin/sh
        # Farm's NIC peer (farm/Boards/Qemu/NicPeer.cs): QEMU runs this for each TCP connection to {{Address}}:{{Port}}
        # on the e1000e's network, the connection on stdin/stdout. One HTTP POST in, {{ReplyBytes}} random bytes out.
        set -u
        log={{Quote(Path.Combine(boardDirectory, LogFile))}}
        d=$(mktemp -d) || exit 1
        trap 'rm -rf "$d"' EXIT
        cr=$(printf '\r')
        len=0
        while IFS= read -r line; do
            line=${line%"$cr"}
            [ -z "$line" ] && break
            case $line in [Cc]ontent-[Ll]ength:*) len=${line#*:}; len=${len# } ;; esac
        done
        case $len in ''|*[!0-9]*) len=0 ;; esac
        [ ${#len} -le 12 ] && [ "$len" -le {{MaxBytes}} ] || len=0
        head -c "$len" > "$d/rx"
        head -c {{ReplyBytes}} /dev/urandom > "$d/tx"
        {
            echo "FARM-PROBE nic-tcp host"
            echo "received $(sha256sum < "$d/rx" | cut -d' ' -f1) $(stat -c %s "$d/rx")"
            echo "sent $(sha256sum < "$d/tx" | cut -d' ' -f1) $(stat -c %s "$d/tx")"
        } >> "$log"
        printf 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' "$(stat -c %s "$d/tx")"
        cat "$d/tx"

        """;

    static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";
}
