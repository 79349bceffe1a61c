using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace NsqTyped.Generators.Tests.Support;

/// <summary>
/// Golden files: <c>Snapshots/{name}.verified.cs</c> beside the tests. A mismatch writes
/// <c>{name}.received.cs</c> and fails; <c>NSQT_ACCEPT=1</c> overwrites the verified file instead.
/// </summary>
internal static class Snapshot
{
    public static void Match(string name, string actual, [CallerFilePath] string callerPath = "")
    {
        var directory = Path.Combine(FindProjectDirectory(callerPath), "Snapshots");
        var verified = Path.Combine(directory, name + ".verified.cs");
        var received = Path.Combine(directory, name + ".received.cs");
        // The generator's version is stamped into [GeneratedCode]; a version bump alone is not a change of output.
        actual = Regex.Replace(actual.ReplaceLineEndings("\n"), "GeneratedCode\\(\"NsqTyped.Generators\", \"[^\"]*\"\\)", "GeneratedCode(\"NsqTyped.Generators\", \"{version}\")");

        if (Environment.GetEnvironmentVariable("NSQT_ACCEPT") == "1")
        {
            Directory.CreateDirectory(directory);
            File.WriteAllText(verified, actual);
            File.Delete(received);
            return;
        }

        var expected = File.Exists(verified) ? File.ReadAllText(verified).ReplaceLineEndings("\n") : null;
        if (expected == actual)
        {
            File.Delete(received);
            return;
        }

        File.WriteAllText(received, actual);
        Assert.Fail(expected is null
            ? $"No snapshot {verified}; wrote {received}. Review it and rerun with NSQT_ACCEPT=1 to accept."
            : $"Generated code differs from {verified}; wrote {received}. Diff them, and rerun with NSQT_ACCEPT=1 if the change is intended.");
    }

    private static string FindProjectDirectory(string callerPath)
    {
        for (var dir = Path.GetDirectoryName(callerPath); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "NsqTyped.Generators.Tests.csproj")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException($"No test project above {callerPath}.");
    }
}
