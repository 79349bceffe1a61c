// Shared loader for the recorded nsqd/nsqlookupd v1.3.0 fixtures in tests/conformance (see its README.md).
//
// Link into a test project with
//   <Compile Include="..\Shared\Conformance\**\*.cs" LinkBase="Conformance" />
// and use it like this:
//
//   [Theory]
//   [MemberData(nameof(ConformanceFixtures.TcpFixtureNames), MemberType = typeof(ConformanceFixtures))]
//   public void Replays(string name)
//   {
//       var fixture = ConformanceFixtures.Load(name);          // "tcp/pub_valid"
//       foreach (var step in fixture.Steps.Where(s => s.Action == "send"))
//       {
//           byte[] sent = step.ResolveSendBytes(fixture.ObservedMessageIds); // null when nothing is sent
//           ...
//       }
//   }
//
// Files are discovered, never listed: a fixture dropped into tcp/ or http/ becomes a new test case.
// The typed views below cover the fields the README documents; anything else is reachable through
// the raw JsonElement (`Json`) of each view. Members of `observed` are examples from one recording run,
// never requirements: they are exposed separately (ObservedXxx / Observed) so a checker can tell.
using System.Collections.Concurrent;
using System.Text.Json;

namespace NsqTyped.Conformance;

/// <summary>Finds, enumerates and loads the conformance fixtures.</summary>
public static class ConformanceFixtures
{
    private static readonly Lazy<string> Root = new(FindRoot);
    private static readonly ConcurrentDictionary<string, ConformanceFixture> Cache = new(StringComparer.Ordinal);

    /// <summary>The marker value the fixtures use for values that differ between runs.</summary>
    public const string Variable = "<variable>";

    /// <summary>Absolute path of the repository's <c>tests/conformance</c> folder.</summary>
    /// <exception cref="InvalidOperationException">No ancestor of the test's output folder holds <c>tests/conformance/index.json</c>.</exception>
    public static string RootDirectory => Root.Value;

    /// <summary>Names (<c>"tcp/pub_valid"</c>) of every <c>tcp/*.json</c> fixture, sorted.</summary>
    public static IReadOnlyList<string> TcpNames => Enumerate("tcp");

    /// <summary>Names (<c>"http/nsqd_pub"</c>) of every <c>http/*.json</c> fixture, sorted.</summary>
    public static IReadOnlyList<string> HttpNames => Enumerate("http");

    /// <summary>xunit data: one case per TCP fixture name.</summary>
    public static Xunit.TheoryData<string> TcpFixtureNames => new(TcpNames);

    /// <summary>xunit data: one case per HTTP fixture name.</summary>
    public static Xunit.TheoryData<string> HttpFixtureNames => new(HttpNames);

    /// <summary>xunit data: one case per fixture of both kinds.</summary>
    public static Xunit.TheoryData<string> AllFixtureNames => new(TcpNames.Concat(HttpNames));

    /// <summary>Loads every TCP fixture.</summary>
    public static IEnumerable<ConformanceFixture> LoadAllTcp() => TcpNames.Select(Load);

    /// <summary>Loads every HTTP fixture.</summary>
    public static IEnumerable<ConformanceFixture> LoadAllHttp() => HttpNames.Select(Load);

    /// <summary>
    /// Loads a fixture by name: <c>"tcp/pub_valid"</c>, <c>"tcp/pub_valid.json"</c> or a bare
    /// <c>"pub_valid"</c> (looked up in tcp/ then http/). Loaded fixtures are cached and immutable.
    /// </summary>
    public static ConformanceFixture Load(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Cache.GetOrAdd(Normalize(name), static key =>
        {
            var path = Path.Combine(RootDirectory, key.Replace('/', Path.DirectorySeparatorChar) + ".json");
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"Conformance fixture '{key}' not found at {path}.", path);
            }

            var bytes = File.ReadAllBytes(path);
            using var document = JsonDocument.Parse(bytes);
            // Clone detaches the tree from the pooled document so fixtures can be cached and shared.
            return new ConformanceFixture(key, path, document.RootElement.Clone());
        });
    }

    private static string Normalize(string name)
    {
        var key = name.Replace('\\', '/');
        if (key.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            key = key[..^5];
        }

        if (key.Contains('/'))
        {
            return key;
        }

        foreach (var kind in new[] { "tcp", "http" })
        {
            if (File.Exists(Path.Combine(RootDirectory, kind, key + ".json")))
            {
                return kind + "/" + key;
            }
        }

        return "tcp/" + key;
    }

    private static IReadOnlyList<string> Enumerate(string kind)
    {
        var folder = Path.Combine(RootDirectory, kind);
        if (!Directory.Exists(folder))
        {
            return [];
        }

        return Directory.EnumerateFiles(folder, "*.json")
            .Select(path => kind + "/" + Path.GetFileNameWithoutExtension(path))
            .Order(StringComparer.Ordinal)
            .ToArray();
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "conformance");
            if (File.Exists(Path.Combine(candidate, "index.json")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            $"Could not find tests/conformance/index.json in any parent of '{AppContext.BaseDirectory}'. " +
            "The conformance tests must run from a build output inside the repository.");
    }
}

/// <summary>One fixture file (TCP or HTTP scenario).</summary>
public sealed class ConformanceFixture
{
    private readonly Lazy<IReadOnlyDictionary<string, byte[]>> _observedIds;

    internal ConformanceFixture(string name, string filePath, JsonElement json)
    {
        Name = name;
        FilePath = filePath;
        Json = json;
        Steps = json.TryGetProperty("steps", out var steps)
            ? steps.EnumerateArray().Select(s => new ConformanceStep(s)).ToArray()
            : [];
        _observedIds = new Lazy<IReadOnlyDictionary<string, byte[]>>(CollectObservedIds);
    }

    /// <summary>Fixture name with its folder, e.g. <c>"tcp/pub_valid"</c> (also the test case name).</summary>
    public string Name { get; }

    /// <summary>Absolute path of the JSON file.</summary>
    public string FilePath { get; }

    /// <summary>The whole parsed file.</summary>
    public JsonElement Json { get; }

    /// <summary><c>"tcp"</c> or <c>"http"</c>.</summary>
    public string Kind => Json.GetString("kind") ?? Name.Split('/')[0];

    /// <summary>The <c>format_version</c> field.</summary>
    public int FormatVersion => Json.GetInt("format_version") ?? 0;

    /// <summary>The scenario's description.</summary>
    public string Description => Json.GetString("description") ?? string.Empty;

    /// <summary>The recorded server, e.g. <c>"nsqd v1.3.0"</c>.</summary>
    public string? Server => Json.GetString("server");

    /// <summary>The exact nsqd command line flags (with <c>&lt;data-path&gt;</c>-style placeholders).</summary>
    public IReadOnlyList<string> ServerFlags => Json.GetStringArray("server_flags");

    /// <summary>The nsqlookupd flags when an nsqlookupd ran too.</summary>
    public IReadOnlyList<string> LookupdFlags => Json.GetStringArray("lookupd_flags");

    /// <summary>Optional notes.</summary>
    public IReadOnlyList<string> Notes => Json.GetStringArray("notes");

    /// <summary>The steps, in execution order.</summary>
    public IReadOnlyList<ConformanceStep> Steps { get; }

    /// <summary>
    /// The value of a <c>--name=value</c> server flag (e.g. <c>"--max-msg-size"</c>), or null when the
    /// flag is absent (the nsqd default applies). A flag without <c>=</c> yields an empty string.
    /// </summary>
    public string? ServerFlag(string name) => FindFlag(ServerFlags, name);

    /// <summary>Like <see cref="ServerFlag"/> for nsqlookupd's flags.</summary>
    public string? LookupdFlag(string name) => FindFlag(LookupdFlags, name);

    /// <summary>Steps of one connection (<c>conn</c>), in order.</summary>
    public IEnumerable<ConformanceStep> StepsOf(string conn) => Steps.Where(s => s.Conn == conn);

    /// <summary>Every frame of every step, in order, with the step it belongs to.</summary>
    public IEnumerable<(ConformanceStep Step, ConformanceFrame Frame)> AllFrames() =>
        Steps.SelectMany(s => (s.Frames ?? []).Select(f => (s, f)));

    /// <summary>
    /// Message id bytes by message reference (<c>"m1"</c> → 16 bytes), taken from the <c>observed.id</c>
    /// of the message frames of the recording run. Use it to resolve <c>send_parts</c> when checking
    /// recorded bytes; a live replay must use the ids it received instead.
    /// </summary>
    public IReadOnlyDictionary<string, byte[]> ObservedMessageIds => _observedIds.Value;

    /// <inheritdoc />
    public override string ToString() => Name;

    private IReadOnlyDictionary<string, byte[]> CollectObservedIds()
    {
        var ids = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (_, frame) in AllFrames())
        {
            if (frame.Ref is { } reference && frame.ObservedId is { } id)
            {
                ids[reference] = System.Text.Encoding.ASCII.GetBytes(id);
            }
        }

        return ids;
    }

    private static string? FindFlag(IReadOnlyList<string> flags, string name)
    {
        foreach (var flag in flags)
        {
            if (flag == name)
            {
                return string.Empty;
            }

            if (flag.StartsWith(name, StringComparison.Ordinal) && flag.Length > name.Length && flag[name.Length] == '=')
            {
                return flag[(name.Length + 1)..];
            }
        }

        return null;
    }
}
