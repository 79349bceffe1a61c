using NsqTyped.Testing.Nsqd.Http;

namespace NsqTyped.Testing.Tests.Http;

/// <summary>The pieces of Go's standard library whose exact output nsqd's HTTP answers depend on.</summary>
public sealed class GoCompatibilityTests
{
    [Theory]
    [InlineData(0L, "0s")]
    [InlineData(999L, "999ns")]
    [InlineData(1_500L, "1.5\u00b5s")]
    [InlineData(266_823_293L, "266.823293ms")]
    [InlineData(1_000_000_000L, "1s")]
    [InlineData(61_500_000_000L, "1m1.5s")]
    [InlineData(3_600_000_000_000L, "1h0m0s")]
    [InlineData(-2_000_000L, "-2ms")]
    public void Duration_is_formatted_like_time_Duration_String(long nanoseconds, string expected) =>
        Assert.Equal(expected, GoFormat.Duration(nanoseconds));

    [Fact]
    public void Json_strings_are_escaped_like_encoding_json()
    {
        var json = new GoJsonWriter().StartObject().Property("k", "<a&b>\"\\\n\t\b\f\u0001\u2028é").EndObject().ToString();

        Assert.Equal("{\"k\":\"\\u003ca\\u0026b\\u003e\\\"\\\\\\n\\t\\b\\f\\u0001\\u2028é\"}", json);
    }

    [Fact]
    public void Json_nil_slice_is_null_and_empty_slice_is_brackets()
    {
        var json = new GoJsonWriter().StartObject().Name("a").StringArray(null).Name("b").StringArray([]).Name("c").StringArray(["x", "y"]).EndObject().ToString();

        Assert.Equal("{\"a\":null,\"b\":[],\"c\":[\"x\",\"y\"]}", json);
    }

    [Fact]
    public void Query_keeps_every_value_decodes_plus_and_percent()
    {
        var query = GoQuery.Parse("topic=a%23ephemeral&x=1&x=2&flag&sp=a+b&empty=");

        Assert.False(query.HasError);
        Assert.Equal("a#ephemeral", query.Get("topic"));
        Assert.Equal("1", query.Get("x"));
        Assert.True(query.TryGet("flag", out var flag));
        Assert.Equal(string.Empty, flag);
        Assert.Equal("a b", query.Get("sp"));
        Assert.True(query.Has("empty"));
        Assert.False(query.Has("missing"));
    }

    [Theory]
    [InlineData("topic=a;b")]
    [InlineData("topic=%zz")]
    [InlineData("topic=%4")]
    public void Query_errors_like_url_ParseQuery_and_skips_the_pair(string raw)
    {
        var query = GoQuery.Parse(raw + "&ok=1");

        Assert.True(query.HasError);
        Assert.False(query.Has("topic"));
        Assert.Equal("1", query.Get("ok"));
    }

    [Theory]
    [InlineData("/ping", "/ping")]
    [InlineData("//ping", "/ping")]
    [InlineData("/a/../ping", "/ping")]
    [InlineData("/topic/create/", "/topic/create/")]
    [InlineData("", "/")]
    public void Clean_path_keeps_a_trailing_slash(string path, string expected) =>
        Assert.Equal(expected, NsqdHttpRouter.CleanPath(path));
}
