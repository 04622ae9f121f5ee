namespace Farm.Spec;

/// <summary><c>host:port</c> as written in lab files; the port may be left out where there is a default.</summary>
internal static class HostPort
{
    public static bool TryParse(string? text, int? defaultPort, out string host, out int port)
    {
        (host, port) = ("", 0);
        if (string.IsNullOrEmpty(text)) return false;
        var i = text.LastIndexOf(':');
        if (i < 0 && defaultPort is { } d) (host, port) = (text, d);
        else if (i > 0 && int.TryParse(text.AsSpan(i + 1), out var p) && p is > 0 and < 65536)
            (host, port) = (text[..i], p);
        return port != 0;
    }
}
