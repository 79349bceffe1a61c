using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace NsqTyped.Internal.Http;

/// <summary>An answer of nsqd/nsqlookupd with a success status.</summary>
internal readonly record struct NsqHttpResponse(HttpStatusCode StatusCode, byte[] Body, bool IsVersion1, string RequestDescription);

/// <summary>
/// The HTTP plumbing shared by <see cref="NsqdHttpClient"/> and <see cref="LookupdClient"/>: base address,
/// the v1 Accept header, timeout and error mapping, and unwrapping of pre-1.0 answers.
/// </summary>
internal sealed class NsqHttpTransport : IDisposable
{
    // go-nsq sends this on every API request; servers older than 1.0 only answer in the raw shape when asked.
    private const string AcceptVersion1 = "application/vnd.nsq; version=1.0";
    private const string NsqContentTypeHeader = "X-NSQ-Content-Type";

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly TimeSpan _timeout;
    private readonly string? _hostHeader;

    /// <param name="baseAddress">The server's http(s) address.</param>
    /// <param name="httpClient">An injected client, or null to create one owned by this transport.</param>
    /// <param name="timeout">Time allowed per request.</param>
    /// <param name="paramName">The base address parameter, for errors.</param>
    /// <param name="tls">TLS settings for the owned client (an https address and no injected client required), or null.</param>
    public NsqHttpTransport(Uri baseAddress, HttpClient? httpClient, TimeSpan timeout, string paramName, NsqTlsOptions? tls = null)
    {
        BaseAddress = NormalizeBaseAddress(baseAddress, paramName);
        if (tls is { Enabled: true } && httpClient is not null)
        {
            throw new ArgumentException("TLS options apply to the HttpClient this client creates: configure TLS on the injected HttpClient's handler instead, or pass no HttpClient.", nameof(httpClient));
        }

        if (tls is { Enabled: true } && BaseAddress.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException($"TLS options need an https:// address (nsqd's --https-address), not '{BaseAddress}'.", paramName);
        }

        if (timeout != Timeout.InfiniteTimeSpan && timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException("requestTimeout", timeout, "The request timeout must be positive or Timeout.InfiniteTimeSpan.");
        }

        _timeout = timeout;
        _ownsHttp = httpClient is null;
        // Our own client leaves timing to the per-request timeout so both paths report NsqTimeoutException alike,
        // and recycles pooled connections so a long-lived client follows DNS changes of the server's name.
        _http = httpClient ?? new HttpClient(CreateHandler(tls, out _hostHeader))
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public Uri BaseAddress { get; }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private SocketsHttpHandler CreateHandler(NsqTlsOptions? tls, out string? hostHeader)
    {
        hostHeader = null;
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (tls is { Enabled: true })
        {
            handler.SslOptions = tls.CreateSslClientOptions();
            handler.SslOptions.RemoteCertificateValidationCallback = tls.RemoteCertificateValidationCallback;

            // SocketsHttpHandler takes the TLS name (SNI and the certificate name check) from the Host header.
            if (tls.TargetHost is { } host)
            {
                hostHeader = BaseAddress.IsDefaultPort ? host : $"{host}:{BaseAddress.Port}";
            }
        }

        return handler;
    }

    /// <summary>Accepts <c>http(s)://host:port[/prefix]</c>, or <c>host:port</c> meaning plain HTTP.</summary>
    public static Uri ParseAddress(string address, string paramName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address, paramName);
        var text = address.Trim();
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = "http://" + text;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            throw new ArgumentException($"'{address}' is not an HTTP address (expected host:port or http://host:port/).", paramName);
        }

        return uri;
    }

    private static Uri NormalizeBaseAddress(Uri baseAddress, string paramName)
    {
        ArgumentNullException.ThrowIfNull(baseAddress, paramName);
        if (!baseAddress.IsAbsoluteUri
            || (baseAddress.Scheme != Uri.UriSchemeHttp && baseAddress.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(baseAddress.Host))
        {
            throw new ArgumentException($"'{baseAddress}' is not an absolute http:// or https:// address.", paramName);
        }

        if (baseAddress.Query.Length > 0 || baseAddress.Fragment.Length > 0)
        {
            throw new ArgumentException($"The base address '{baseAddress}' must not carry a query or fragment.", paramName);
        }

        // Relative paths are resolved against the base, so a path prefix must end in '/' to be kept.
        return baseAddress.AbsolutePath.EndsWith('/')
            ? baseAddress
            : new Uri(baseAddress.GetLeftPart(UriPartial.Path) + "/");
    }

    /// <summary>
    /// Sends one request and returns the answer when its status is a success; otherwise throws
    /// <see cref="NsqHttpException"/> (server answered), <see cref="NsqConnectionException"/> (no answer),
    /// <see cref="NsqTimeoutException"/> or <see cref="OperationCanceledException"/>.
    /// </summary>
    public async ValueTask<NsqHttpResponse> SendAsync(HttpMethod method, string relativePathAndQuery, HttpContent? content, CancellationToken cancellationToken)
    {
        var description = method.Method + " /" + relativePathAndQuery;
        using var request = new HttpRequestMessage(method, new Uri(BaseAddress, relativePathAndQuery));
        request.Headers.TryAddWithoutValidation("Accept", AcceptVersion1);
        if (_hostHeader is not null)
        {
            request.Headers.Host = _hostHeader;
        }
        if (content is not null)
        {
            request.Content = content;
        }
        else if (method == HttpMethod.Post || method == HttpMethod.Put)
        {
            // An explicit empty body makes HttpClient send Content-Length: 0, as nsqd's own tools do.
            request.Content = new ByteArrayContent([]);
        }

        using var timeoutSource = _timeout == Timeout.InfiniteTimeSpan ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource?.CancelAfter(_timeout);
        var token = timeoutSource?.Token ?? cancellationToken;
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, token).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false);
            var isVersion1 = response.Headers.Contains(NsqContentTypeHeader);
            if (!response.IsSuccessStatusCode)
            {
                throw CreateError(response.StatusCode, body, description);
            }

            return new NsqHttpResponse(response.StatusCode, body, isVersion1, description);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Either our timeout or HttpClient.Timeout of an injected client fired, not the caller's token.
            throw new NsqTimeoutException($"{description} to {BaseAddress} timed out.", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new NsqConnectionException($"{description} to {BaseAddress} failed: {ex.Message}", ex);
        }
    }

    /// <summary>Sends a request whose successful answer carries no data (<c>OK</c> or empty).</summary>
    public async ValueTask SendCommandAsync(HttpMethod method, string relativePathAndQuery, HttpContent? content, CancellationToken cancellationToken)
    {
        var response = await SendAsync(method, relativePathAndQuery, content, cancellationToken).ConfigureAwait(false);
        if (!response.IsVersion1)
        {
            // Pre-1.0 servers report some errors as HTTP 200 with a wrapped status_code.
            _ = TryUnwrapLegacy(response, out _);
        }
    }

    /// <summary>Sends a request and deserializes the JSON answer (raw v1 shape or the pre-1.0 wrapper).</summary>
    public async ValueTask<T> SendJsonAsync<T>(HttpMethod method, string relativePathAndQuery, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        var response = await SendAsync(method, relativePathAndQuery, null, cancellationToken).ConfigureAwait(false);
        return ReadJson(response, typeInfo);
    }

    public static T ReadJson<T>(in NsqHttpResponse response, JsonTypeInfo<T> typeInfo) =>
        ReadJsonOrNull(response, typeInfo)
        ?? throw new NsqProtocolException($"{response.RequestDescription} answered JSON null where {typeof(T).Name} was expected.");

    /// <summary>Like <see cref="ReadJson{T}"/>, but a JSON <c>null</c> answer gives null.</summary>
    public static T? ReadJsonOrNull<T>(in NsqHttpResponse response, JsonTypeInfo<T> typeInfo)
    {
        try
        {
            T? value;
            if (!response.IsVersion1 && TryUnwrapLegacy(response, out var data))
            {
                value = data.Deserialize(typeInfo);
            }
            else
            {
                value = JsonSerializer.Deserialize(response.Body, typeInfo);
            }

            return value;
        }
        catch (JsonException ex)
        {
            throw new NsqProtocolException($"{response.RequestDescription} answered with a body that is not the expected JSON: {Preview(response.Body)}", ex);
        }
    }

    /// <summary>Parses the answer as a JSON document of any shape (raw v1 or unwrapped pre-1.0).</summary>
    public static JsonElement ReadJsonElement(in NsqHttpResponse response)
    {
        if (!response.IsVersion1 && TryUnwrapLegacy(response, out var data))
        {
            return data;
        }

        try
        {
            using var document = JsonDocument.Parse(response.Body);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new NsqProtocolException($"{response.RequestDescription} answered with a body that is not JSON: {Preview(response.Body)}", ex);
        }
    }

    /// <summary>
    /// Recognizes <c>{"status_code":N,"status_txt":"...","data":...}</c>, the answer shape of servers before
    /// 1.0; throws <see cref="NsqHttpException"/> when its status_code is an error.
    /// </summary>
    private static bool TryUnwrapLegacy(in NsqHttpResponse response, out JsonElement data)
    {
        data = default;
        var body = response.Body.AsSpan().TrimStart(" \t\r\n"u8);
        if (body.IsEmpty || body[0] != (byte)'{')
        {
            return false;
        }

        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(response.Body);
            root = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return false;
        }

        if (!root.TryGetProperty("status_code", out var statusCode) || statusCode.ValueKind != JsonValueKind.Number
            || !root.TryGetProperty("data", out data))
        {
            return false;
        }

        var status = statusCode.TryGetInt32(out var s) ? s : 0;
        if (status is < 200 or > 299)
        {
            var text = root.TryGetProperty("status_txt", out var txt) && txt.ValueKind == JsonValueKind.String ? txt.GetString() : null;
            throw new NsqHttpException((HttpStatusCode)status, text, Encoding.UTF8.GetString(response.Body), response.RequestDescription);
        }

        return true;
    }

    private static NsqHttpException CreateError(HttpStatusCode statusCode, byte[] body, string description)
    {
        string? code = null;
        int? httpsPort = null;
        var trimmed = body.AsSpan().TrimStart(" \t\r\n"u8);
        if (!trimmed.IsEmpty && trimmed[0] == (byte)'{')
        {
            try
            {
                using var document = JsonDocument.Parse(body);
                var root = document.RootElement;
                // v1 answers {"message":CODE}; pre-1.0 answers {"status_code":N,"status_txt":CODE,"data":null}.
                if (root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
                {
                    code = message.GetString();
                }
                else if (root.TryGetProperty("status_txt", out var statusText) && statusText.ValueKind == JsonValueKind.String)
                {
                    code = statusText.GetString();
                }

                if (root.TryGetProperty("https_port", out var port) && port.TryGetInt32(out var p))
                {
                    httpsPort = p;
                }
            }
            catch (JsonException)
            {
                // Not an NSQ error document: the raw body in the exception is all there is.
            }
        }

        return new NsqHttpException(statusCode, code, Encoding.UTF8.GetString(body), description) { HttpsPort = httpsPort };
    }

    private static string Preview(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 200));
        return body.Length > 200 ? text + "..." : text;
    }
}

/// <summary>Builds <c>path?name=value&amp;...</c> strings with nsqd-compatible escaping.</summary>
internal static class NsqHttpPath
{
    /// <summary>Appends the parameters whose value is not null, in order.</summary>
    public static string Build(string path, params ReadOnlySpan<(string Name, string? Value)> query)
    {
        var builder = new StringBuilder(path.Length + 48);
        builder.Append(path);
        var separator = '?';
        foreach (var (name, value) in query)
        {
            if (value is null)
            {
                continue;
            }

            builder.Append(separator).Append(name).Append('=');
            AppendEscaped(builder, value);
            separator = '&';
        }

        return builder.ToString();
    }

    // Unreserved characters and ':' (legal in a query, and what nsqadmin and the recorded requests send for
    // host:port nodes) stay readable; everything else, notably '#' of "#ephemeral", is percent-encoded.
    private static void AppendEscaped(StringBuilder builder, string value)
    {
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in value.EnumerateRunes())
        {
            if (rune.IsAscii && (char.IsAsciiLetterOrDigit((char)rune.Value) || rune.Value is '-' or '.' or '_' or '~' or ':'))
            {
                builder.Append((char)rune.Value);
                continue;
            }

            var length = rune.EncodeToUtf8(utf8);
            for (var i = 0; i < length; i++)
            {
                builder.Append('%').Append(utf8[i].ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
    }
}
