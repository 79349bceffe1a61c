namespace NsqTyped.Testing.Nsqd.Http;

/// <summary>What an nsqd handler sees of a request: method, decoded path, raw query, body.</summary>
internal sealed class NsqdHttpRequest
{
    private GoQuery? _query;

    public NsqdHttpRequest(string method, string path, string rawQuery, long contentLength, Stream body, bool isHttps)
    {
        Method = method;
        Path = path;
        RawQuery = rawQuery;
        ContentLength = contentLength;
        Body = body;
        IsHttps = isHttps;
    }

    /// <summary>The request method as sent.</summary>
    public string Method { get; }

    /// <summary>The percent-decoded path (Go's <c>req.URL.Path</c>).</summary>
    public string Path { get; }

    /// <summary>The query exactly as sent, without <c>?</c> (Go's <c>req.URL.RawQuery</c>).</summary>
    public string RawQuery { get; }

    /// <summary>The query parsed like <c>url.ParseQuery</c>.</summary>
    public GoQuery Query => _query ??= GoQuery.Parse(RawQuery);

    /// <summary>The declared body length, or -1 when unknown (chunked), as Go's <c>req.ContentLength</c>.</summary>
    public long ContentLength { get; }

    /// <summary>The request body stream.</summary>
    public Stream Body { get; }

    /// <summary>Whether the request came in on the HTTPS listener.</summary>
    public bool IsHttps { get; }

    /// <summary>The <c>:opt</c>-style route parameter of the matched route, or empty.</summary>
    public string RouteParameter { get; set; } = string.Empty;

    /// <summary>
    /// Reads at most <paramref name="limit"/> bytes of the body, like Go's
    /// <c>ioutil.ReadAll(io.LimitReader(req.Body, limit))</c>.
    /// </summary>
    public async ValueTask<byte[]> ReadBodyAsync(long limit, CancellationToken cancellationToken)
    {
        // Bodies are buffered in one array; limits beyond what an array holds cannot be honoured anyway.
        limit = Math.Clamp(limit, 0, Array.MaxLength);
        var initial = ContentLength >= 0 ? (int)Math.Min(ContentLength, limit) : (int)Math.Min(limit, 16 * 1024);
        var buffer = new byte[Math.Max(initial, 0)];
        var total = 0;
        while (total < limit)
        {
            if (total == buffer.Length)
            {
                var grown = (int)Math.Min(limit, Math.Max(buffer.Length * 2L, 4096));
                Array.Resize(ref buffer, grown);
            }

            var read = await Body.ReadAsync(buffer.AsMemory(total, (int)Math.Min(buffer.Length - total, limit - total)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        if (total != buffer.Length)
        {
            Array.Resize(ref buffer, total);
        }

        return buffer;
    }

    /// <summary>Reads exactly <paramref name="destination"/>.Length bytes; false when the body ends first (Go's <c>io.ReadFull</c>).</summary>
    public async ValueTask<bool> ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < destination.Length)
        {
            var read = await Body.ReadAsync(destination[total..], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return false;
            }

            total += read;
        }

        return true;
    }
}
