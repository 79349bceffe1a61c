using System.Globalization;
using System.Text.RegularExpressions;

namespace NsqTyped.Testing.Tests.Http;

/// <summary>
/// The recording used nsqd 4150/4151/4152 and nsqlookupd 4160/4161; the servers under test listen on
/// free ports. Rewrites those port numbers (as whole numbers) to the real ones in request paths and
/// expected answers.
/// </summary>
internal sealed partial class FixturePorts
{
    private readonly Dictionary<int, int> _map = [];

    public const int NsqdTcp = 4150;
    public const int NsqdHttp = 4151;
    public const int NsqdHttps = 4152;
    public const int LookupdTcp = 4160;
    public const int LookupdHttp = 4161;

    public void Map(int recorded, int actual) => _map[recorded] = actual;

    public string Apply(string text) => RecordedPort().Replace(text, match =>
        _map.TryGetValue(int.Parse(match.Value, CultureInfo.InvariantCulture), out var actual)
            ? actual.ToString(CultureInfo.InvariantCulture)
            : match.Value);

    [GeneratedRegex("(?<![0-9])(4150|4151|4152|4160|4161)(?![0-9])")]
    private static partial Regex RecordedPort();
}
