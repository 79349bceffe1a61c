using NsqTyped.Conformance;

namespace NsqTyped.Protocol.Tests;

public class ConformanceLoaderTests
{
    [Fact]
    public void Loader_finds_every_fixture_listed_in_the_index()
    {
        using var index = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(ConformanceFixtures.RootDirectory, "index.json")));
        var listed = index.RootElement.GetProperty("fixtures").EnumerateArray()
            .Select(f => f.GetProperty("file").GetString()![..^".json".Length])
            .ToHashSet();

        var found = ConformanceFixtures.TcpNames.Concat(ConformanceFixtures.HttpNames).ToHashSet();

        Assert.Superset(listed, found);
        Assert.True(ConformanceFixtures.TcpNames.Count >= 80, $"only {ConformanceFixtures.TcpNames.Count} tcp fixtures");
        Assert.NotEmpty(ConformanceFixtures.HttpNames);
    }

    [Theory]
    [MemberData(nameof(ConformanceFixtures.AllFixtureNames), MemberType = typeof(ConformanceFixtures))]
    public void Every_fixture_loads_with_its_name_and_steps(string name)
    {
        var fixture = ConformanceFixtures.Load(name);

        Assert.Equal(name, fixture.Name);
        Assert.Equal(name.Split('/')[0], fixture.Kind);
        Assert.Equal(1, fixture.FormatVersion);
        Assert.NotEmpty(fixture.Steps);
        Assert.All(fixture.Steps, step => Assert.False(string.IsNullOrEmpty(step.Action)));
    }

    [Fact]
    public void Send_parts_resolve_to_the_bytes_the_recording_run_sent()
    {
        var fixture = ConformanceFixtures.Load("tcp/delivery_fin_req_touch");
        var withParts = fixture.Steps.Where(s => s.SendParts is not null).ToArray();

        Assert.NotEmpty(withParts);
        foreach (var step in withParts)
        {
            var bytes = step.ResolveSendBytes(fixture.ObservedMessageIds);
            Assert.Equal(step.ObservedSendHex, ConformanceHex.Format(bytes));
        }
    }

    [Fact]
    public void Patterns_skip_xx_bytes_and_check_length()
    {
        Assert.True(ConformanceHex.Matches([0x00, 0x7f, 0x02], "00xx02"));
        Assert.False(ConformanceHex.Matches([0x00, 0x7f, 0x03], "00xx02"));
        Assert.False(ConformanceHex.Matches([0x00, 0x7f], "00xx02"));
        Assert.Equal(2, ConformanceHex.FirstMismatch([0x00, 0x7f, 0x03], "00xx02"));
    }

    [Fact]
    public void Server_flags_are_read_by_name()
    {
        var fixture = ConformanceFixtures.Load("tcp/rdy_custom_max");

        Assert.Equal("127.0.0.1:4150", fixture.ServerFlag("--tcp-address"));
        Assert.NotNull(fixture.ServerFlag("--max-rdy-count"));
        Assert.Null(fixture.ServerFlag("--no-such-flag"));
    }
}
