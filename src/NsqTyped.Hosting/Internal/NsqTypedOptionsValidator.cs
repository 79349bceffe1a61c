using Microsoft.Extensions.Options;
using NsqTyped.Protocol;

namespace NsqTyped.Hosting.Internal;

/// <summary>
/// Checks the bound settings when the host starts (<c>ValidateOnStart</c>) by building exactly the option
/// records the services will use and running their own validation, so a mistake is reported once, with its
/// configuration key, before anything connects.
/// </summary>
internal sealed class NsqTypedOptionsValidator(IEnumerable<INsqHandlerDispatcher> dispatchers, NsqTypedCustomizations customizations)
    : IValidateOptions<NsqTypedOptions>
{
    private const string Section = NsqTypedOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, NsqTypedOptions options)
    {
        var failures = new List<string>();
        var nsqds = options.NsqdTcpAddresses ?? [];
        var lookupds = options.LookupdHttpAddresses ?? [];
        if (nsqds.Count == 0 && lookupds.Count == 0)
        {
            failures.Add($"{Section}: no nsqd or nsqlookupd address is configured. Set {Section}:NsqdTcpAddresses (e.g. [\"127.0.0.1:4150\"]) " +
                $"for the producer and direct consumers, and/or {Section}:LookupdHttpAddresses (e.g. [\"http://127.0.0.1:4161\"]) for consumer discovery.");
        }

        for (var i = 0; i < nsqds.Count; i++)
        {
            Check(failures, $"{Section}:NsqdTcpAddresses:{i}", () => Probe() with { NsqdTcpAddresses = [nsqds[i]] });
        }

        for (var i = 0; i < lookupds.Count; i++)
        {
            Check(failures, $"{Section}:LookupdHttpAddresses:{i}", () => Probe() with { LookupdHttpAddresses = [lookupds[i]] });
        }

        NsqdConnectionOptions? connection = null;
        try
        {
            connection = NsqTypedOptionsFactory.BuildConnection(options, customizations, loggerFactory: null);
            connection.Validate();
        }
        catch (ArgumentException ex)
        {
            failures.Add(Describe($"{Section}:Connection", ex));
            connection = null;
        }
        catch (Exception ex) when (ex is IOException or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException)
        {
            failures.Add($"{Section}:Connection:Tls: cannot read a certificate file: {ex.Message}");
            connection = null;
        }

        // Producer and consumer records embed the connection options: checked only once those are valid, so one mistake is reported once.
        if (connection is not null)
        {
            try
            {
                NsqTypedOptionsFactory.BuildProducer(options, connection, customizations).Validate();
            }
            catch (ArgumentException ex)
            {
                failures.Add(Describe($"{Section}:Producer", ex));
            }
        }

        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dispatcher in dispatchers)
        {
            var key = NsqTypedOptionsFactory.ConsumerKey(dispatcher);
            known.Add(key);
            if (connection is null || !NsqTypedOptionsFactory.IsConsumerEnabled(options, dispatcher) || (nsqds.Count == 0 && lookupds.Count == 0))
            {
                continue;
            }

            try
            {
                NsqTypedOptionsFactory.BuildReader(options, dispatcher, connection, customizations, loggerFactory: null).Validate();
            }
            catch (ArgumentException ex)
            {
                var where = options.Consumers?.ContainsKey(key) == true ? $"{Section}:Consumers:{key}" : $"{Section}:Consumer";
                failures.Add(Describe(where, ex) + $" (handler {dispatcher.HandlerName} on {key})");
            }
        }

        foreach (var key in options.Consumers?.Keys ?? Enumerable.Empty<string>())
        {
            var slash = key.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0 || !NsqNames.IsValidTopicName(key.AsSpan(0, slash)) || !NsqNames.IsValidChannelName(key.AsSpan(slash + 1)))
            {
                failures.Add($"{Section}:Consumers:{key}: the key must be \"topic/channel\" with valid NSQ names (1 to 64 characters of [.a-zA-Z0-9_-], optionally #ephemeral).");
            }
            else if (!known.Contains(key))
            {
                var list = known.Count == 0 ? "none is registered (call services.AddNsqTypedHandlers())" : string.Join(", ", known.Order(StringComparer.Ordinal));
                failures.Add($"{Section}:Consumers:{key}: no [NsqHandler] handles this topic/channel; registered: {list}.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Reader options valid in everything but what the check sets, so address parsing is the library's own.</summary>
    private static NsqReaderOptions Probe() => new() { Topic = "probe", Channel = "probe", NsqdTcpAddresses = ["127.0.0.1:4150"] };

    private static void Check(List<string> failures, string key, Func<NsqReaderOptions> build)
    {
        try
        {
            var probe = build();
            (probe.LookupdHttpAddresses.Count > 0 ? probe with { NsqdTcpAddresses = [] } : probe).Validate();
        }
        catch (ArgumentException ex)
        {
            failures.Add($"{key}: {FirstLine(ex.Message)}");
        }
    }

    private static string Describe(string section, ArgumentException ex) =>
        string.IsNullOrEmpty(ex.ParamName) ? $"{section}: {FirstLine(ex.Message)}" : $"{section}:{ex.ParamName}: {FirstLine(ex.Message)}";

    /// <summary>ArgumentException appends "(Parameter 'x')" and the actual value on later lines; the key already says which.</summary>
    private static string FirstLine(string message)
    {
        var text = message;
        var newline = text.IndexOf('\n', StringComparison.Ordinal);
        if (newline >= 0)
        {
            text = text[..newline].TrimEnd('\r');
        }

        var parameter = text.LastIndexOf(" (Parameter '", StringComparison.Ordinal);
        return parameter > 0 ? text[..parameter] : text;
    }
}
