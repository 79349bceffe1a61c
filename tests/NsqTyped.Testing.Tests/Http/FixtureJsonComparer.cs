using System.Text.Json;

namespace NsqTyped.Testing.Tests.Http;

/// <summary>
/// Compares a response JSON document with a fixture's <c>body_json</c> the way the conformance README
/// says: equal everywhere (including object key order, which is the server's), except at
/// <c>variable_fields</c> paths (the key must exist; its value is free) and inside
/// <c>unordered_arrays</c>, which are compared as multisets. Paths are RFC 6901 pointers where
/// <c>*</c> matches any array index or member name.
/// </summary>
internal static class FixtureJsonComparer
{
    public static List<string> Compare(
        JsonElement expected,
        JsonElement actual,
        IEnumerable<string> variablePaths,
        IEnumerable<string> unorderedArrays)
    {
        var mismatches = new List<string>();
        var comparer = new Walker([.. variablePaths.Select(Split)], [.. unorderedArrays.Select(Split)]);
        comparer.Compare(expected, actual, [], mismatches);
        return mismatches;
    }

    private static string[] Split(string pointer) =>
        pointer.Length == 0 ? [] : pointer.TrimStart('/').Split('/').Select(s => s.Replace("~1", "/").Replace("~0", "~")).ToArray();

    private sealed class Walker(List<string[]> variablePaths, List<string[]> unorderedArrays)
    {
        public void Compare(JsonElement expected, JsonElement actual, List<string> path, List<string> mismatches)
        {
            if (Matches(variablePaths, path) || (expected.ValueKind == JsonValueKind.String && expected.GetString() == "<variable>"))
            {
                return;
            }

            var where = path.Count == 0 ? "(root)" : "/" + string.Join('/', path);
            if (expected.ValueKind != actual.ValueKind
                && !(expected.ValueKind is JsonValueKind.True or JsonValueKind.False && actual.ValueKind is JsonValueKind.True or JsonValueKind.False))
            {
                mismatches.Add($"{where}: expected {expected.ValueKind} {expected.GetRawText()}, got {actual.ValueKind} {actual.GetRawText()}");
                return;
            }

            switch (expected.ValueKind)
            {
                case JsonValueKind.Object:
                    CompareObjects(expected, actual, path, mismatches, where);
                    break;
                case JsonValueKind.Array:
                    CompareArrays(expected, actual, path, mismatches, where);
                    break;
                case JsonValueKind.String:
                    if (expected.GetString() != actual.GetString())
                    {
                        mismatches.Add($"{where}: expected {expected.GetRawText()}, got {actual.GetRawText()}");
                    }

                    break;
                case JsonValueKind.Number:
                    if (expected.GetRawText() != actual.GetRawText()
                        && !(expected.TryGetDecimal(out var e) && actual.TryGetDecimal(out var a) && e == a))
                    {
                        mismatches.Add($"{where}: expected {expected.GetRawText()}, got {actual.GetRawText()}");
                    }

                    break;
                case JsonValueKind.True or JsonValueKind.False:
                    if (expected.GetBoolean() != actual.GetBoolean())
                    {
                        mismatches.Add($"{where}: expected {expected.GetRawText()}, got {actual.GetRawText()}");
                    }

                    break;
            }
        }

        private void CompareObjects(JsonElement expected, JsonElement actual, List<string> path, List<string> mismatches, string where)
        {
            var expectedNames = expected.EnumerateObject().Select(p => p.Name).ToList();
            var actualNames = actual.EnumerateObject().Select(p => p.Name).ToList();
            if (!expectedNames.SequenceEqual(actualNames))
            {
                mismatches.Add($"{where}: expected keys [{string.Join(", ", expectedNames)}] in this order, got [{string.Join(", ", actualNames)}]");
            }

            foreach (var property in expected.EnumerateObject())
            {
                if (actual.TryGetProperty(property.Name, out var value))
                {
                    path.Add(property.Name);
                    Compare(property.Value, value, path, mismatches);
                    path.RemoveAt(path.Count - 1);
                }
            }
        }

        private void CompareArrays(JsonElement expected, JsonElement actual, List<string> path, List<string> mismatches, string where)
        {
            var expectedItems = expected.EnumerateArray().ToList();
            var actualItems = actual.EnumerateArray().ToList();
            if (expectedItems.Count != actualItems.Count)
            {
                mismatches.Add($"{where}: expected {expectedItems.Count} elements {expected.GetRawText()}, got {actualItems.Count} {actual.GetRawText()}");
                return;
            }

            if (!Matches(unorderedArrays, path))
            {
                for (var i = 0; i < expectedItems.Count; i++)
                {
                    path.Add(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    Compare(expectedItems[i], actualItems[i], path, mismatches);
                    path.RemoveAt(path.Count - 1);
                }

                return;
            }

            var unused = Enumerable.Range(0, actualItems.Count).ToList();
            for (var i = 0; i < expectedItems.Count; i++)
            {
                path.Add(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                var match = unused.FindIndex(j =>
                {
                    var probe = new List<string>();
                    Compare(expectedItems[i], actualItems[j], [.. path], probe);
                    return probe.Count == 0;
                });
                path.RemoveAt(path.Count - 1);
                if (match < 0)
                {
                    mismatches.Add($"{where}: no element matches {expectedItems[i].GetRawText()} (unordered) in {actual.GetRawText()}");
                    continue;
                }

                unused.RemoveAt(match);
            }
        }

        private static bool Matches(List<string[]> patterns, List<string> path)
        {
            foreach (var pattern in patterns)
            {
                if (pattern.Length != path.Count)
                {
                    continue;
                }

                var ok = true;
                for (var i = 0; i < pattern.Length && ok; i++)
                {
                    ok = pattern[i] == "*" || pattern[i] == path[i];
                }

                if (ok)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
