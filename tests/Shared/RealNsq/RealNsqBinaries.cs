namespace NsqTyped.Tests.Support;

/// <summary>
/// Where the real nsqd and nsqlookupd binaries are: the folder named by <c>NSQ_REAL_BIN_DIR</c>, or
/// <c>../shared/realnsq</c> beside the repository (the folder holding <c>NsqTyped.sln</c>). A plain clone
/// has neither, and the tests then start embedded servers instead.
/// </summary>
public static class RealNsqBinaries
{
    /// <summary>Environment variable naming the folder that holds <c>nsqd</c> and <c>nsqlookupd</c>.</summary>
    public const string DirectoryVariable = "NSQ_REAL_BIN_DIR";

    private static readonly Lazy<string?> s_directory = new(Find);

    /// <summary>The folder holding both binaries, or <see langword="null"/> when none was found.</summary>
    public static string? Directory => s_directory.Value;

    /// <summary>The nsqd binary's path, or <see langword="null"/>.</summary>
    public static string? Nsqd => Directory is { } d ? Path.Combine(d, "nsqd") : null;

    /// <summary>The nsqlookupd binary's path, or <see langword="null"/>.</summary>
    public static string? Nsqlookupd => Directory is { } d ? Path.Combine(d, "nsqlookupd") : null;

    private static string? Find()
    {
        var named = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (!string.IsNullOrWhiteSpace(named))
        {
            return HasBinaries(named) ? Path.GetFullPath(named) : null;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NsqTyped.sln")))
            {
                var beside = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "realnsq"));
                return HasBinaries(beside) ? beside : null;
            }
        }

        return null;
    }

    private static bool HasBinaries(string directory) =>
        File.Exists(Path.Combine(directory, "nsqd")) && File.Exists(Path.Combine(directory, "nsqlookupd"));
}
