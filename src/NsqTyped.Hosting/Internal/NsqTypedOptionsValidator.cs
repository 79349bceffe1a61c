using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NsqTyped.Protocol;

namespace NsqTyped.Hosting.Internal;

/// <summary>
/// Checks the bound settings when the host starts (<c>ValidateOnStart</c>) by building exactly the option
/// records the services will use and running their own <c>Validate()</c> (which collects every problem), so each
/// mistake is reported once, one line each with its configuration key, before anything connects. The list is
/// also logged (EventId 3009) as a short block, ahead of the exception's stack trace.
/// </summary>
internal sealed class NsqTypedOptionsValidator(IEnumerable<INsqHandlerDispatcher> dispatchers, NsqTypedCustomizations customizations, ILoggerFactory? loggerFactory = null)
    : IValidateOptions<NsqTypedOptions>
{
    private const string Section = NsqTypedOptions.SectionName;

    private readonly ILogger _logger = (ILogger?)loggerFactory?.CreateLogger("NsqTyped.Hosting") ?? NullLogger.Instance;

    public ValidateOptionsResult Validate(string? name, NsqTypedOptions options)
    {
        var failures = new List<string>(options.BindingProblems);
        var nsqds = options.NsqdTcpAddresses ?? [];
        var lookupds = options.LookupdHttpAddresses ?? [];
        if (nsqds.Count == 0 && lookupds.Count == 0)
        {
            failures.Add($"{Section}: no nsqd or nsqlookupd address is configured. Set {Section}:NsqdTcpAddresses (e.g. [\"127.0.0.1:4150\"]) " +
                $"for the producer and direct consumers, and/or {Section}:LookupdHttpAddresses (e.g. [\"http://127.0.0.1:4161\"]) for consumer discovery.");
        }

        // Each address on its own, through the Reader's own parsing, so the message names its index.
        for (var i = 0; i < nsqds.Count; i++)
        {
            AddProblems(failures, $"{Section}:NsqdTcpAddresses:{i}", () => Probe() with { NsqdTcpAddresses = [nsqds[i]] }, named: false);
        }

        for (var i = 0; i < lookupds.Count; i++)
        {
            AddProblems(failures, $"{Section}:LookupdHttpAddresses:{i}", () => Probe() with { NsqdTcpAddresses = [], LookupdHttpAddresses = [lookupds[i]] }, named: false);
        }

        NsqdConnectionOptions? connection = null;
        AddProblems(failures, $"{Section}:Connection", () =>
        {
            var built = NsqTypedOptionsFactory.BuildConnection(options, customizations, loggerFactory: null);
            built.Validate();
            connection = built;
            return null;
        });

        // Producer and consumer records embed the connection options: checked only once those are valid, so one mistake is reported once.
        if (connection is { } valid)
        {
            AddProblems(failures, $"{Section}:Producer", () =>
            {
                NsqTypedOptionsFactory.BuildProducer(options, valid, customizations).Validate();
                return null;
            });
        }

        // The same consumer problem for several handlers is one line naming them all.
        var consumerProblems = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dispatcher in dispatchers)
        {
            var key = NsqTypedOptionsFactory.ConsumerKey(dispatcher);
            known.Add(key);
            if (connection is not { } readerConnection || !NsqTypedOptionsFactory.IsConsumerEnabled(options, dispatcher) || (nsqds.Count == 0 && lookupds.Count == 0))
            {
                continue;
            }

            var where = options.Consumers?.ContainsKey(key) == true ? $"{Section}:Consumers:{key}" : $"{Section}:Consumer";
            var problems = new List<string>();
            AddProblems(problems, where, () => NsqTypedOptionsFactory.BuildReader(options, dispatcher, readerConnection, customizations, loggerFactory: null), skip: IsReported);
            foreach (var problem in problems)
            {
                if (!consumerProblems.TryGetValue(problem, out var handlers))
                {
                    consumerProblems[problem] = handlers = [];
                }

                handlers.Add($"{dispatcher.HandlerName} on {key}");
            }
        }

        failures.AddRange(consumerProblems.Select(p => $"{p.Key} ({(p.Value.Count == 1 ? "handler" : "handlers")} {string.Join(", ", p.Value)})"));

        foreach (var key in (options.Consumers?.Keys ?? Enumerable.Empty<string>()).Concat(options.DisabledConsumers ?? []).Distinct(StringComparer.Ordinal))
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

        if (failures.Count == 0)
        {
            return ValidateOptionsResult.Success;
        }

        HostingLog.InvalidConfiguration(_logger, failures.Count, string.Concat(failures.Select(f => Environment.NewLine + "  - " + f)));
        return ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Reader options valid in everything but what the check sets, so address parsing is the library's own.</summary>
    private static NsqReaderOptions Probe() => new() { Topic = "probe", Channel = "probe", NsqdTcpAddresses = ["127.0.0.1:4150"] };

    /// <summary>Addresses are checked (and reported) above, not once per handler.</summary>
    private static bool IsReported(string? parameter) =>
        parameter is nameof(NsqReaderOptions.NsqdTcpAddresses) or nameof(NsqReaderOptions.LookupdHttpAddresses);

    /// <summary>
    /// Runs <paramref name="build"/> (and validates the Reader options it returns); every problem it reports, whether one
    /// exception or several collected by the record's <c>Validate()</c>, becomes one line: <c>section:Parameter: message</c>.
    /// </summary>
    private static void AddProblems(List<string> failures, string section, Func<NsqReaderOptions?> build, bool named = true, Func<string?, bool>? skip = null)
    {
        try
        {
            build()?.Validate();
        }
        catch (ArgumentException ex)
        {
            IEnumerable<ArgumentException> problems = ex.InnerException is AggregateException { InnerExceptions: var inner } && inner.All(e => e is ArgumentException)
                ? inner.Cast<ArgumentException>()
                : [ex];
            foreach (var problem in problems)
            {
                if (skip?.Invoke(problem.ParamName) == true)
                {
                    continue;
                }

                var line = named && !string.IsNullOrEmpty(problem.ParamName)
                    ? $"{section}:{problem.ParamName}: {FirstLine(problem.Message)}"
                    : $"{section}: {FirstLine(problem.Message)}";
                if (!failures.Contains(line))
                {
                    failures.Add(line);
                }
            }
        }
    }

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
