using System.Text;

namespace NsqTyped.Testing.Nsqd.Http;

/// <summary>
/// A complete HTTP answer, built in memory and written in one go with an exact <c>Content-Length</c>.
/// The factory methods reproduce nsqd's decorators (<c>internal/http_api/api_response.go</c>):
/// <see cref="V1Text"/>/<see cref="V1Json"/>/<see cref="V1Error"/> carry <c>X-NSQ-Content-Type</c>,
/// <see cref="PlainText"/> (used by <c>/ping</c>) does not. When no Content-Type is set and the body is
/// not empty, the writer adds the one Go's <c>http.DetectContentType</c> would sniff.
/// </summary>
internal sealed class NsqdHttpResult
{
    /// <summary>The header every V1 response carries (Go canonicalises the name to <c>X-Nsq-Content-Type</c>).</summary>
    public const string NsqContentTypeHeader = "X-Nsq-Content-Type";

    /// <summary>Its value.</summary>
    public const string NsqContentTypeValue = "nsq; version=1.0";

    /// <summary>Content-Type of JSON answers and errors.</summary>
    public const string JsonContentType = "application/json; charset=utf-8";

    private NsqdHttpResult(int status, byte[] body)
    {
        Status = status;
        Body = body;
    }

    /// <summary>HTTP status code.</summary>
    public int Status { get; }

    /// <summary>The body (possibly empty).</summary>
    public byte[] Body { get; }

    /// <summary>Headers in the order they are added (Content-Length and Date are added by the writer/Kestrel).</summary>
    public List<KeyValuePair<string, string>> Headers { get; } = [];

    /// <summary>Adds a header and returns this result.</summary>
    public NsqdHttpResult WithHeader(string name, string value)
    {
        Headers.Add(new(name, value));
        return this;
    }

    /// <summary>V1 success with a text body (<c>OK</c>) or an empty one when <paramref name="text"/> is empty.</summary>
    public static NsqdHttpResult V1Text(string text) =>
        new NsqdHttpResult(200, Encoding.UTF8.GetBytes(text)).WithHeader(NsqContentTypeHeader, NsqContentTypeValue);

    /// <summary>V1 success with no body (admin endpoints).</summary>
    public static NsqdHttpResult V1Empty() => V1Text(string.Empty);

    /// <summary>V1 success with raw bytes whose content type Go sniffs (the text <c>/stats</c>).</summary>
    public static NsqdHttpResult V1Bytes(byte[] body) =>
        new NsqdHttpResult(200, body).WithHeader(NsqContentTypeHeader, NsqContentTypeValue);

    /// <summary>V1 success with a marshalled JSON value.</summary>
    public static NsqdHttpResult V1Json(byte[] json) =>
        new NsqdHttpResult(200, json)
            .WithHeader("Content-Type", JsonContentType)
            .WithHeader(NsqContentTypeHeader, NsqContentTypeValue);

    /// <summary>V1 error: the status and <c>{"message":"CODE"}</c> (formatted, not marshalled, as nsqd does).</summary>
    public static NsqdHttpResult V1Error(int status, string message) =>
        new NsqdHttpResult(status, Encoding.UTF8.GetBytes("{\"message\":\"" + message + "\"}"))
            .WithHeader("Content-Type", JsonContentType)
            .WithHeader(NsqContentTypeHeader, NsqContentTypeValue);

    /// <summary>The PlainText decorator: status and text, no nsq header.</summary>
    public static NsqdHttpResult PlainText(int status, string text) => new(status, Encoding.UTF8.GetBytes(text));

    /// <summary>An answer with an arbitrary body and headers.</summary>
    public static NsqdHttpResult Raw(int status, byte[] body) => new(status, body);

    /// <summary>Go's <c>http.StatusText</c> for the codes nsqd produces (Kestrel's own phrases differ, e.g. for 413).</summary>
    public static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        301 => "Moved Permanently",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Request Entity Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => string.Empty,
    };

    /// <summary>
    /// The part of Go's content sniffing that applies to what nsqd writes without a Content-Type: text
    /// unless a byte Go considers binary appears.
    /// </summary>
    public static string SniffContentType(ReadOnlySpan<byte> body)
    {
        foreach (var b in body[..Math.Min(body.Length, 512)])
        {
            if (b <= 0x08 || b == 0x0B || (b >= 0x0E && b <= 0x1A) || (b >= 0x1C && b <= 0x1F))
            {
                return "application/octet-stream";
            }
        }

        return "text/plain; charset=utf-8";
    }
}
