using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace NsqTyped.Testing.Nsqd.Auth;

/// <summary>Builds the server's authorizer from the options (nsqd's IsAuthEnabled is "one exists").</summary>
internal static class NsqdAuthorizers
{
    public static INsqdAuthorizer? Create(EmbeddedNsqdOptions options)
    {
        if (options.Authorizer is { } inProcess)
        {
            return inProcess;
        }

        return options.AuthHttpAddresses.Count > 0
            ? new NsqdHttpAuthorizer(options.AuthHttpAddresses, options.AuthHttpRequestMethod, options.HttpClientRequestTimeout)
            : null;
    }

    /// <summary>
    /// nsqd's checks on an auth answer (<c>internal/auth/authorizations.go</c> QueryAuthd): known
    /// permissions only, compilable patterns, TTL above zero. Returns the reason when invalid.
    /// </summary>
    public static string? Validate(NsqdAuthState state)
    {
        foreach (var authorization in state.Authorizations)
        {
            foreach (var permission in authorization.Permissions)
            {
                if (permission is not ("subscribe" or "publish"))
                {
                    return $"unknown permission {permission}";
                }
            }

            if (!IsValidPattern(authorization.Topic))
            {
                return $"unable to compile topic \"{authorization.Topic}\"";
            }

            foreach (var channel in authorization.Channels)
            {
                if (!IsValidPattern(channel))
                {
                    return $"unable to compile channel \"{channel}\"";
                }
            }
        }

        return state.Ttl <= 0 ? $"invalid TTL {state.Ttl} (must be >0)" : null;
    }

    private static bool IsValidPattern(string pattern)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}

/// <summary>
/// nsqd's auth-server client (<c>--auth-http-address</c>): <c>GET http://host:port/auth?common_name=&amp;remote_ip=&amp;secret=&amp;tls=</c>
/// (or POST with a form when the method is <c>post</c>) with <c>Accept: application/vnd.nsq; version=1.0</c>;
/// a 200 answer is the JSON auth state, anything else a failure; the addresses are tried from a
/// random start until one answers.
/// </summary>
internal sealed class NsqdHttpAuthorizer : INsqdAuthorizer, IDisposable
{
    private readonly string[] _addresses;
    private readonly bool _post;
    private readonly HttpClient _http;

    public NsqdHttpAuthorizer(IReadOnlyList<string> addresses, string method, TimeSpan timeout)
    {
        _addresses = [.. addresses];
        _post = string.Equals(method, "post", StringComparison.OrdinalIgnoreCase);
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = timeout }) { Timeout = timeout };
    }

    public async ValueTask<NsqdAuthState?> AuthorizeAsync(NsqdAuthRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        Exception? last = null;
        var start = Random.Shared.Next(_addresses.Length);
        for (var i = 0; i < _addresses.Length; i++)
        {
            var address = _addresses[(start + i) % _addresses.Length];
            try
            {
                return await QueryAsync(address, request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or JsonException or InvalidOperationException or TaskCanceledException)
            {
                last = ex;
            }
        }

        throw new InvalidOperationException("No auth server accepted the secret.", last);
    }

    private async Task<NsqdAuthState> QueryAsync(string address, NsqdAuthRequest request, CancellationToken cancellationToken)
    {
        var endpoint = address.Contains("://", StringComparison.Ordinal) ? address : $"http://{address}/auth";

        // Go's url.Values.Encode sorts the keys.
        var query = new StringBuilder()
            .Append("common_name=").Append(Uri.EscapeDataString(request.CommonName))
            .Append("&remote_ip=").Append(Uri.EscapeDataString(request.RemoteIp))
            .Append("&secret=").Append(Uri.EscapeDataString(request.Secret))
            .Append("&tls=").Append(request.Tls ? "true" : "false")
            .ToString();
        using var message = _post
            ? new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(query, Encoding.UTF8, "application/x-www-form-urlencoded") }
            : new HttpRequestMessage(HttpMethod.Get, $"{endpoint}?{query}");
        message.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse("application/vnd.nsq; version=1.0"));
        using var response = await _http.SendAsync(message, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != System.Net.HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"got response {(int)response.StatusCode} {response.ReasonPhrase} from {endpoint}");
        }

        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var state = JsonSerializer.Deserialize(body, NsqdAuthJsonContext.Default.NsqdAuthState)
            ?? throw new InvalidOperationException("auth server answered JSON null");
        return NsqdAuthorizers.Validate(state) is { } problem ? throw new InvalidOperationException(problem) : state;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>Source-generated JSON metadata for auth answers (AOT-safe).</summary>
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(NsqdAuthState))]
internal sealed partial class NsqdAuthJsonContext : JsonSerializerContext;
