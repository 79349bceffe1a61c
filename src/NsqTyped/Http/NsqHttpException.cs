using System.Net;

namespace NsqTyped;

/// <summary>
/// nsqd or nsqlookupd answered an HTTP API request with an error status, e.g. 404
/// <c>{"message":"TOPIC_NOT_FOUND"}</c> or 413 <c>{"message":"MSG_TOO_BIG"}</c>.
/// </summary>
/// <example>
/// <code>
/// try { await nsqd.DeleteTopicAsync("orders"); }
/// catch (NsqHttpException ex) when (ex.NsqCode == "TOPIC_NOT_FOUND") { /* already gone */ }
/// </code>
/// </example>
public class NsqHttpException : NsqException
{
    /// <summary>Creates an exception for an error answer.</summary>
    /// <param name="statusCode">The HTTP status (or the <c>status_code</c> of a pre-1.0 wrapped answer).</param>
    /// <param name="nsqCode">The NSQ error code from the body (<c>message</c> or <c>status_txt</c>), or null when the body carries none.</param>
    /// <param name="responseBody">The response body as text.</param>
    /// <param name="requestDescription">Method and path of the request, for the message.</param>
    public NsqHttpException(HttpStatusCode statusCode, string? nsqCode, string responseBody, string requestDescription)
        : base(Describe(statusCode, nsqCode, responseBody, requestDescription))
    {
        StatusCode = statusCode;
        NsqCode = nsqCode;
        ResponseBody = responseBody;
    }

    /// <summary>The HTTP status of the answer, e.g. <see cref="HttpStatusCode.NotFound"/>.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>
    /// The NSQ error code, e.g. <c>TOPIC_NOT_FOUND</c>, <c>CHANNEL_NOT_FOUND</c>, <c>INVALID_TOPIC</c>,
    /// <c>MSG_TOO_BIG</c>, <c>BODY_TOO_BIG</c>, <c>BAD_MESSAGE</c>, <c>INVALID_DEFER</c>,
    /// <c>TLS_REQUIRED</c>; null when the body is not an NSQ error document (e.g. <c>NOK - ...</c> from <c>/ping</c>).
    /// </summary>
    public string? NsqCode { get; }

    /// <summary>The raw response body, decoded as UTF-8.</summary>
    public string ResponseBody { get; }

    /// <summary>
    /// The HTTPS port nsqd names in a <c>TLS_REQUIRED</c> answer (<c>{"message":"TLS_REQUIRED","https_port":4152}</c>),
    /// otherwise null.
    /// </summary>
    public int? HttpsPort { get; init; }

    private static string Describe(HttpStatusCode statusCode, string? nsqCode, string body, string request)
    {
        var detail = nsqCode ?? (body.Length > 200 ? body[..200] + "..." : body);
        return $"{request} failed with HTTP {(int)statusCode}: {detail}";
    }
}
