using System.Text;

namespace NsqTyped.Testing.Nsqd.Http;

/// <summary>
/// Hand-written routing with the behaviour of the <c>julienschmidt/httprouter</c> v1.3 configuration nsqd
/// uses: exact method+path routes with one optional trailing <c>:param</c> segment, trailing-slash and
/// case-insensitive redirects (301 for GET, 307 otherwise), automatic <c>OPTIONS</c> answers with an
/// <c>Allow</c> header, 405 <c>METHOD_NOT_ALLOWED</c> (with <c>Allow</c>) and 404 <c>NOT_FOUND</c> as V1 JSON errors.
/// </summary>
internal sealed class NsqdHttpRouter
{
    private readonly List<Route> _routes = [];

    /// <summary>Registers <paramref name="handler"/> for <paramref name="method"/> on <paramref name="pattern"/> (e.g. <c>/config/:opt</c>).</summary>
    public void Add(string method, string pattern, Func<NsqdHttpRequest, CancellationToken, ValueTask<NsqdHttpResult>> handler)
    {
        var colon = pattern.IndexOf(":", StringComparison.Ordinal);
        _routes.Add(colon < 0
            ? new Route(method, pattern, null, handler)
            : new Route(method, pattern[..colon], pattern[(colon + 1)..], handler));
    }

    /// <summary>Routes the request and runs the handler, or produces httprouter's redirect/OPTIONS/405/404 answer.</summary>
    public ValueTask<NsqdHttpResult> DispatchAsync(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        var path = request.Path;
        if (Match(request.Method, path, out var route, out var parameter))
        {
            request.RouteParameter = parameter;
            return route.Handler(request, cancellationToken);
        }

        if (request.Method != "CONNECT" && path != "/" && _routes.Exists(r => r.Method == request.Method))
        {
            var code = request.Method == "GET" ? 301 : 307;
            var alternative = path.Length > 1 && path[^1] == '/' ? path[..^1] : path + "/";
            if (Match(request.Method, alternative, out _, out _))
            {
                return ValueTask.FromResult(Redirect(request, alternative, code));
            }

            if (FindCaseInsensitive(request.Method, CleanPath(path)) is { } fixedPath)
            {
                return ValueTask.FromResult(Redirect(request, fixedPath, code));
            }
        }

        if (request.Method == "OPTIONS")
        {
            var allow = Allowed(path, "OPTIONS");
            if (allow.Length > 0)
            {
                return ValueTask.FromResult(NsqdHttpResult.Raw(200, []).WithHeader("Allow", allow));
            }
        }
        else
        {
            var allow = Allowed(path, request.Method);
            if (allow.Length > 0)
            {
                var result = NsqdHttpResult.V1Error(405, "METHOD_NOT_ALLOWED");
                result.Headers.Insert(0, new("Allow", allow));
                return ValueTask.FromResult(result);
            }
        }

        return ValueTask.FromResult(NsqdHttpResult.V1Error(404, "NOT_FOUND"));
    }

    private bool Match(string method, string path, out Route route, out string parameter)
    {
        foreach (var candidate in _routes)
        {
            if (candidate.Method == method && candidate.Matches(path, StringComparison.Ordinal, out parameter))
            {
                route = candidate;
                return true;
            }
        }

        route = null!;
        parameter = string.Empty;
        return false;
    }

    private string Allowed(string path, string requestMethod)
    {
        var methods = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var route in _routes)
        {
            if (route.Method != requestMethod && route.Method != "OPTIONS" && route.Matches(path, StringComparison.Ordinal, out _))
            {
                methods.Add(route.Method);
            }
        }

        if (methods.Count == 0)
        {
            return string.Empty;
        }

        methods.Add("OPTIONS");
        return string.Join(", ", methods);
    }

    private string? FindCaseInsensitive(string method, string path)
    {
        foreach (var candidate in new[] { path, path.Length > 1 && path[^1] == '/' ? path[..^1] : path + "/" })
        {
            foreach (var route in _routes)
            {
                if (route.Method == method && route.Matches(candidate, StringComparison.OrdinalIgnoreCase, out var parameter))
                {
                    return route.Parameter is null ? route.Prefix : route.Prefix + parameter;
                }
            }
        }

        return null;
    }

    private static NsqdHttpResult Redirect(NsqdHttpRequest request, string path, int code)
    {
        var location = request.RawQuery.Length > 0 ? path + "?" + request.RawQuery : path;
        if (request.Method is "GET" or "HEAD")
        {
            // Go's http.Redirect: a small HTML body for GET (Fprintln adds the second newline).
            var body = request.Method == "GET"
                ? Encoding.UTF8.GetBytes("<a href=\"" + HtmlEscape(location) + "\">" + NsqdHttpResult.ReasonPhrase(code) + "</a>.\n\n")
                : [];
            return NsqdHttpResult.Raw(code, body)
                .WithHeader("Content-Type", "text/html; charset=utf-8")
                .WithHeader("Location", location);
        }

        return NsqdHttpResult.Raw(code, []).WithHeader("Location", location);
    }

    private static string HtmlEscape(string s) =>
        s.Replace("&", "&amp;", StringComparison.Ordinal)
            .Replace("<", "&lt;", StringComparison.Ordinal)
            .Replace(">", "&gt;", StringComparison.Ordinal)
            .Replace("\"", "&#34;", StringComparison.Ordinal)
            .Replace("'", "&#39;", StringComparison.Ordinal);

    /// <summary>httprouter's <c>CleanPath</c>: <c>path.Clean</c> that keeps a trailing slash.</summary>
    internal static string CleanPath(string path)
    {
        if (path.Length == 0)
        {
            return "/";
        }

        var trailing = path.Length > 1 && path[^1] == '/';
        var parts = new List<string>();
        foreach (var segment in path.Split('/'))
        {
            if (segment.Length == 0 || segment == ".")
            {
                continue;
            }

            if (segment == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }

                continue;
            }

            parts.Add(segment);
        }

        var cleaned = "/" + string.Join('/', parts);
        return trailing && cleaned != "/" ? cleaned + "/" : cleaned;
    }

    private sealed record Route(
        string Method,
        string Prefix,
        string? Parameter,
        Func<NsqdHttpRequest, CancellationToken, ValueTask<NsqdHttpResult>> Handler)
    {
        public bool Matches(string path, StringComparison comparison, out string parameter)
        {
            parameter = string.Empty;
            if (Parameter is null)
            {
                return string.Equals(path, Prefix, comparison);
            }

            if (!path.StartsWith(Prefix, comparison) || path.Length == Prefix.Length)
            {
                return false;
            }

            var value = path[Prefix.Length..];
            if (value.Contains('/'))
            {
                return false;
            }

            parameter = value;
            return true;
        }
    }
}
