namespace NsqTyped.Internal;

/// <summary>
/// Collects every problem of one options record so <c>Validate()</c> reports them all at once: one problem
/// is rethrown as it was (its exception type and parameter name intact), several become one
/// <see cref="ArgumentException"/> listing each on its own line, with the problems as its inner <see cref="AggregateException"/>.
/// </summary>
internal sealed class OptionsProblems(string owner)
{
    private readonly List<ArgumentException> _problems = [];

    /// <summary>Runs one rule; an <see cref="ArgumentException"/> it throws is kept, not thrown.</summary>
    public void Check(Action rule)
    {
        try
        {
            rule();
        }
        catch (ArgumentException ex) when (ex.InnerException is AggregateException { InnerExceptions: var nested } && nested.All(static e => e is ArgumentException))
        {
            // A nested record's Validate (the connection options inside a producer's or Reader's) listed several: keep each.
            _problems.AddRange(nested.Cast<ArgumentException>());
        }
        catch (ArgumentException ex)
        {
            _problems.Add(ex);
        }
    }

    /// <summary>Throws what was found, if anything.</summary>
    public void ThrowIfAny()
    {
        switch (_problems.Count)
        {
            case 0:
                return;
            case 1:
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_problems[0]);
                return;
            default:
                var lines = _problems.Select(p => "- " + Describe(p));
                // The problems themselves ride along as an AggregateException, so a caller (hosting's validation) can map each to its key.
                throw new ArgumentException(
                    $"{owner} has {_problems.Count} problems:{Environment.NewLine}{string.Join(Environment.NewLine, lines)}",
                    _problems[0].ParamName,
                    new AggregateException(_problems));
        }
    }

    /// <summary>The problem in one line: the parameter, then the message without the framework's "(Parameter ...)" and "Actual value" additions.</summary>
    private static string Describe(ArgumentException problem)
    {
        var message = problem.Message;
        var cut = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        if (cut >= 0)
        {
            message = message[..cut];
        }

        message = message.ReplaceLineEndings(" ").Trim();
        return problem.ParamName is { Length: > 0 } name && !message.StartsWith(name, StringComparison.Ordinal) ? $"{name}: {message}" : message;
    }
}
