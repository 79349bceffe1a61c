using System.Net;
using System.Text;

namespace NsqTyped.Tests.Http;

/// <summary>A request as it left the client: method, path with raw query, body and Accept header.</summary>
internal sealed record RecordedRequest(string Method, string PathAndQuery, byte[] Body, string Accept)
{
    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>An in-memory <see cref="HttpMessageHandler"/>: records every request and answers with <see cref="Respond"/>.</summary>
internal sealed class FakeHttpHandler : HttpMessageHandler
{
    private readonly List<RecordedRequest> _requests = [];

    public FakeHttpHandler(Func<HttpRequestMessage, HttpResponseMessage> respond) => Respond = respond;

    public Func<HttpRequestMessage, HttpResponseMessage> Respond { get; set; }

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return _requests.ToArray();
            }
        }
    }

    public bool Disposed { get; private set; }

    /// <summary>An answer the way nsqd 1.x writes it: status, body, and the X-NSQ-Content-Type header unless <paramref name="v1"/> is false.</summary>
    public static HttpResponseMessage Answer(HttpStatusCode status, string body, bool v1 = true, string? contentType = "application/json; charset=utf-8")
    {
        var response = new HttpResponseMessage(status) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) };
        if (contentType is not null && body.Length > 0)
        {
            response.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        if (v1)
        {
            response.Headers.TryAddWithoutValidation("X-Nsq-Content-Type", "nsq; version=1.0");
        }

        return response;
    }

    /// <summary>A handler that answers every request with 200 and <paramref name="body"/>.</summary>
    public static FakeHttpHandler Always(string body = "", HttpStatusCode status = HttpStatusCode.OK, bool v1 = true, bool contentTypeless = false) =>
        new(_ => Answer(status, body, v1, contentTypeless ? null : "application/json; charset=utf-8"));

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        lock (_requests)
        {
            _requests.Add(new RecordedRequest(request.Method.Method, request.RequestUri!.PathAndQuery, body, request.Headers.TryGetValues("Accept", out var accept) ? string.Join(", ", accept) : ""));
        }

        return Respond(request);
    }

    protected override void Dispose(bool disposing)
    {
        Disposed = true;
        base.Dispose(disposing);
    }
}
