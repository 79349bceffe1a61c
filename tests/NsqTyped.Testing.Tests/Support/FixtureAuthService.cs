using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NsqTyped.Testing.Tests.Support;

/// <summary>One request the auth service received, in the fixtures' <c>auth_service_requests</c> shape.</summary>
internal sealed record RecordedAuthRequest(string Method, string Path, IReadOnlyDictionary<string, string> Query, string Accept);

/// <summary>
/// A tiny nsqd auth server (Kestrel on 127.0.0.1:0) that answers as a fixture's <c>auth_service</c>
/// text describes and records every request.
/// </summary>
internal sealed partial class FixtureAuthService : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<RecordedAuthRequest> _requests = [];

    private FixtureAuthService(WebApplication app, string address)
    {
        _app = app;
        Address = address;
    }

    /// <summary><c>127.0.0.1:port</c>, as nsqd's <c>--auth-http-address</c> takes it.</summary>
    public string Address { get; }

    public IReadOnlyList<RecordedAuthRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>
    /// Understands the phrasing of the fixtures: <c>secret 'x' with {json}</c>, <c>'y' with an empty
    /// authorizations list</c>, <c>anything else with HTTP 403</c>.
    /// </summary>
    public static async Task<FixtureAuthService> StartAsync(string description)
    {
        var answers = new Dictionary<string, string>(StringComparer.Ordinal);
        var defaultStatus = 403;
        string? template = null;
        foreach (Match match in SecretWithJson().Matches(description))
        {
            var json = ExtractJson(description, match.Index + match.Length);
            answers[match.Groups["secret"].Value] = json;
            template ??= json;
        }

        foreach (Match match in SecretWithEmptyList().Matches(description))
        {
            var json = template is null ? """{"ttl":3600,"identity":"","identity_url":"","authorizations":[]}""" : EmptyAuthorizations(template);
            answers[match.Groups["secret"].Value] = json;
        }

        if (AnythingElse().Match(description) is { Success: true } other)
        {
            defaultStatus = int.Parse(other.Groups["status"].Value, System.Globalization.CultureInfo.InvariantCulture);
        }

        if (answers.Count == 0)
        {
            throw new InvalidOperationException($"The auth_service description is not understood: {description}");
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        FixtureAuthService? service = null;
        app.Run(async context =>
        {
            var query = context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
            lock (service!._requests)
            {
                service._requests.Add(new RecordedAuthRequest(context.Request.Method, context.Request.Path, query, context.Request.Headers.Accept.ToString()));
            }

            if (query.TryGetValue("secret", out var secret) && answers.TryGetValue(secret, out var json))
            {
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(json).ConfigureAwait(false);
                return;
            }

            context.Response.StatusCode = defaultStatus;
        });
        await app.StartAsync().ConfigureAwait(false);
        var url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        service = new FixtureAuthService(app, $"127.0.0.1:{url.Port}");
        return service;
    }

    private static string ExtractJson(string text, int start)
    {
        var depth = 0;
        for (var i = start; i < text.Length; i++)
        {
            if (text[i] == '{')
            {
                depth++;
            }
            else if (text[i] == '}' && --depth == 0)
            {
                var json = text[start..(i + 1)];
                using var _ = JsonDocument.Parse(json);
                return json;
            }
        }

        throw new InvalidOperationException("Unterminated JSON in the auth_service description.");
    }

    private static string EmptyAuthorizations(string template)
    {
        using var document = JsonDocument.Parse(template);
        var values = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        values["authorizations"] = Array.Empty<object>();
        return JsonSerializer.Serialize(values);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    [GeneratedRegex(@"secret '(?<secret>[^']+)' with (?=\{)")]
    private static partial Regex SecretWithJson();

    [GeneratedRegex(@"'(?<secret>[^']+)' with an empty authorizations list")]
    private static partial Regex SecretWithEmptyList();

    [GeneratedRegex(@"anything else with HTTP (?<status>\d{3})")]
    private static partial Regex AnythingElse();
}
