using System.Runtime.CompilerServices;

namespace NsqTyped.Generators.Tests.Support;

/// <summary>Files of the repository the tests check against (README, samples, docs).</summary>
internal static class Repository
{
    /// <summary>The folder holding NsqTyped.sln.</summary>
    public static string Root([CallerFilePath] string path = "")
    {
        for (var dir = Path.GetDirectoryName(path); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "NsqTyped.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("No NsqTyped.sln above " + path);
    }
}
