using NsqTyped.Tests.Support;

namespace NsqTyped.Tests.Reader;

/// <summary>Options validation reports every problem at once, in words a user can act on, before any I/O.</summary>
public sealed class NsqReaderOptionsProblemsTests
{
    private static readonly NsqReaderOptions Valid = NsqReaderOptions.Default with { Topic = "orders", Channel = "billing", NsqdTcpAddresses = ["127.0.0.1:4150"] };

    [Fact]
    public void Every_problem_is_reported_at_once_one_per_line()
    {
        var options = Valid with { Channel = "", MaxInFlight = 0, NsqdTcpAddresses = ["127.0.0.1:notaport"], LookupdPollJitter = 2 };

        var error = Assert.ThrowsAny<ArgumentException>(options.Validate);

        var lines = error.Message.Split('\n').Select(l => l.Trim()).ToArray();
        Assert.StartsWith("NsqReaderOptions has 4 problems:", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("- Channel is missing", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("- MaxInFlight", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("- NsqdTcpAddresses", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("- LookupdPollJitter", StringComparison.Ordinal) && l.Contains("between 0 and 1", StringComparison.Ordinal));
        Assert.Equal("Channel", error.ParamName);
    }

    [Fact]
    public void Connection_and_producer_options_report_every_problem_too_and_nested_ones_are_listed_each_on_its_line()
    {
        var connection = NsqdConnectionOptions.Default with { DeflateLevel = 0, SampleRate = 100, MaxBodySize = 0 };

        var error = Assert.ThrowsAny<ArgumentException>(connection.Validate);
        Assert.StartsWith("NsqdConnectionOptions has 3 problems:", error.Message, StringComparison.Ordinal);

        var producer = NsqProducerOptions.Default with { Connection = connection, ConnectionsPerNode = 0 };
        var lines = Assert.ThrowsAny<ArgumentException>(producer.Validate).Message.Split('\n').Select(l => l.Trim()).ToArray();
        Assert.StartsWith("NsqProducerOptions has 4 problems:", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("- DeflateLevel", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("- SampleRate", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("- MaxBodySize", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("- ConnectionsPerNode", StringComparison.Ordinal));

        // A Reader lists its connection's problems beside its own.
        var reader = Valid with { MaxInFlight = 0, Connection = connection };
        Assert.StartsWith("NsqReaderOptions has 4 problems:", Assert.ThrowsAny<ArgumentException>(reader.Validate).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void One_problem_keeps_its_own_exception_type_and_parameter()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => (Valid with { MaxInFlight = 0 }).Validate());

        Assert.Equal("MaxInFlight", error.ParamName);
    }

    [Theory]
    [InlineData("", "Topic is missing")]
    [InlineData(null, "Topic is missing")]
    public void A_missing_topic_says_it_is_missing(string? topic, string expected)
    {
        var error = Assert.ThrowsAny<ArgumentException>((Valid with { Topic = topic! }).Validate);

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_channel_says_it_is_missing_rather_than_invalid()
    {
        var error = Assert.ThrowsAny<ArgumentException>((Valid with { Channel = null! }).Validate);

        Assert.StartsWith("Channel is missing: name the NSQ channel", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not a valid", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_Reader_with_heartbeats_disabled_is_refused_before_any_IO()
    {
        var options = Valid with { NsqdTcpAddresses = [NsqTestServers.UnusedTcpAddress()], Connection = NsqdConnectionOptions.Default with { HeartbeatInterval = Timeout.InfiniteTimeSpan } };

        var error = Assert.ThrowsAny<ArgumentException>(() => new NsqReader(options, static (_, _) => ValueTask.CompletedTask));

        Assert.Contains("nsqd refuses SUB on a connection with heartbeats disabled", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(24)]
    public void An_output_buffer_timeout_nsqd_refuses_is_refused_before_any_IO(int milliseconds)
    {
        var options = NsqdConnectionOptions.Default with { OutputBufferTimeout = TimeSpan.FromMilliseconds(milliseconds) };

        var error = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);

        Assert.Contains("below 25 ms", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Output_buffer_timeouts_nsqd_accepts_pass()
    {
        (NsqdConnectionOptions.Default with { OutputBufferTimeout = NsqdConnectionOptions.MinOutputBufferTimeout }).Validate();
        (NsqdConnectionOptions.Default with { OutputBufferTimeout = Timeout.InfiniteTimeSpan }).Validate();
        (NsqdConnectionOptions.Default with { OutputBufferTimeout = null }).Validate();
    }

    [Fact]
    public void Default_holds_the_same_values_as_a_new_record()
    {
        Assert.Equal(new NsqReaderOptions(), NsqReaderOptions.Default);
    }
}
