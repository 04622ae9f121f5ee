using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Farm.Web;

/// <summary>
/// Failed requests on both ends of the lab API, one structured event each: <c>farm serve</c> logs
/// every answer of 400 or more, <c>farm agent</c> every request the controller did not take. The
/// fields are the method, the path (never the query), the status and, when one was thrown, the
/// exception's type and message; never a header, so never a bearer token, and every text field
/// passes <see cref="Redact"/> first.
/// </summary>
internal static partial class RequestLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "{Method} {Path} answered {Status}")]
    public static partial void Refused(ILogger log, string method, string path, int status);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "{Method} {Path} answered {Status}: {ExceptionType}: {ExceptionMessage}")]
    public static partial void Rejected(ILogger log, string method, string path, int status, string exceptionType, string exceptionMessage);

    /// <summary>A 500: Farm's bug, so the stack goes with it.</summary>
    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "{Method} {Path} failed with {Status}: {ExceptionType}: {ExceptionMessage}")]
    public static partial void Failed(ILogger log, string method, string path, int status, string exceptionType, string exceptionMessage, Exception exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "lab API listening on {Address}")]
    public static partial void Listening(ILogger log, string address);

    /// <summary>The client's side: <see cref="Status"/> is null when no answer came at all.</summary>
    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "{Method} {Path} to {Server} failed: {Status} {ExceptionType}: {ExceptionMessage}")]
    public static partial void ControllerFailed(ILogger log, string method, string path, string server, int? status, string exceptionType, string exceptionMessage);

    /// <summary>Logs a server-side failure at the level its status deserves.</summary>
    public static void Answered(ILogger log, string method, string path, int status, Exception? e)
    {
        path = Redact(path);
        if (e is null) Refused(log, method, path, status);
        else if (status >= 500) Failed(log, method, path, status, e.GetType().Name, Redact(e.Message), e);
        else Rejected(log, method, path, status, e.GetType().Name, Redact(e.Message));
    }

    /// <summary><see cref="SecretMask.Mask"/>, and any Farm token (<c>farm_</c> + base64url) or bearer credential, control characters as '?', at most 300 characters.</summary>
    public static string Redact(string? text)
    {
        var s = Bearer().Replace(Token().Replace(SecretMask.Mask(text), "farm_" + SecretMask.Hidden), "${scheme} " + SecretMask.Hidden);
        s = new string(s.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return s.Length > 300 ? s[..300] + "…" : s;
    }

    [GeneratedRegex(@"farm_[A-Za-z0-9_-]{8,}", RegexOptions.CultureInvariant)]
    private static partial Regex Token();

    [GeneratedRegex(@"(?<scheme>\b(?:Bearer|Basic))\s+[A-Za-z0-9._~+/=-]+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Bearer();
}
