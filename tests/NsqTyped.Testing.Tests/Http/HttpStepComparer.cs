using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using NsqTyped.Conformance;

namespace NsqTyped.Testing.Tests.Http;

/// <summary>
/// Compares one recorded <c>http</c> step with a live answer, field by field, per the conformance
/// README: status, reason, headers (Date only for presence; Content-Length/Transfer-Encoding only when
/// the body is exact; no header the recording did not have), and the body (exact bytes, JSON with
/// variable fields and unordered arrays, or a full-match regex).
/// </summary>
internal static class HttpStepComparer
{
    private static readonly string[] FramingHeaders = ["Content-Length", "Transfer-Encoding"];

    public static List<string> Compare(ConformanceStep step, RawHttpResponse actual, FixturePorts ports)
    {
        var failures = new List<string>();
        if (actual.Status != step.Status)
        {
            failures.Add($"status: expected {step.Status}, got {actual.Status}");
        }

        if (actual.Reason != step.Reason)
        {
            failures.Add($"reason: expected '{step.Reason}', got '{actual.Reason}'");
        }

        var exact = step.BodyExact == true;
        byte[]? expectedBody = null;
        if (exact)
        {
            expectedBody = step.BodyHex is { } hex ? ConformanceHex.Parse(hex) : Encoding.UTF8.GetBytes(ports.Apply(step.BodyText ?? string.Empty));
        }

        CompareHeaders(step, actual, ports, exact, expectedBody, failures);
        if (exact)
        {
            if (!actual.Body.AsSpan().SequenceEqual(expectedBody))
            {
                failures.Add($"body: expected '{Encoding.UTF8.GetString(expectedBody!)}', got '{actual.BodyText}'");
            }
        }
        else if (step.BodyJson is { } expectedJson)
        {
            CompareJson(step, expectedJson, actual, ports, failures);
        }
        else if (step.BodyRegex is { } pattern)
        {
            var regex = new Regex(@"\A(?:" + ports.Apply(pattern) + @")\z", RegexOptions.Singleline | RegexOptions.CultureInvariant);
            if (!regex.IsMatch(actual.BodyText))
            {
                failures.Add($"body does not match /{pattern}/:\n{actual.BodyText}");
            }
        }
        else
        {
            failures.Add("fixture step has neither an exact body, body_json nor body_regex");
        }

        return failures;
    }

    private static void CompareHeaders(ConformanceStep step, RawHttpResponse actual, FixturePorts ports, bool exact, byte[]? expectedBody, List<string> failures)
    {
        var expected = step.ResponseHeaders
            .Where(h => exact || !FramingHeaders.Contains(h.Key, StringComparer.OrdinalIgnoreCase))
            .ToList();
        foreach (var (name, value) in expected)
        {
            var values = actual.HeaderValues(name).ToList();
            if (values.Count == 0)
            {
                failures.Add($"header {name}: missing");
                continue;
            }

            if (name.Equals("Date", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var wanted = name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && expectedBody is not null
                ? expectedBody.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)
                : ports.Apply(value);
            if (values.Count != 1 || values[0] != wanted)
            {
                failures.Add($"header {name}: expected '{wanted}', got '{string.Join("', '", values)}'");
            }
        }

        foreach (var (name, value) in actual.Headers)
        {
            var allowed = expected.Any(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase))
                || (!exact && FramingHeaders.Contains(name, StringComparer.OrdinalIgnoreCase));
            if (!allowed)
            {
                failures.Add($"header {name}: not in the recording (value '{value}')");
            }
        }
    }

    private static void CompareJson(ConformanceStep step, JsonElement expected, RawHttpResponse actual, FixturePorts ports, List<string> failures)
    {
        JsonDocument actualDocument;
        try
        {
            actualDocument = JsonDocument.Parse(actual.Body);
        }
        catch (JsonException exception)
        {
            failures.Add($"body is not JSON ({exception.Message}): {actual.BodyText}");
            return;
        }

        using (actualDocument)
        using (var expectedDocument = JsonDocument.Parse(ports.Apply(expected.GetRawText())))
        {
            var mismatches = FixtureJsonComparer.Compare(
                expectedDocument.RootElement,
                actualDocument.RootElement,
                step.VariableFields.Select(f => f.Path),
                step.UnorderedArrays);
            failures.AddRange(mismatches.Select(m => "json " + m));
        }
    }
}
