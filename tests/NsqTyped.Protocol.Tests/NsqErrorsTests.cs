using System.Text;

namespace NsqTyped.Protocol.Tests;

public class NsqErrorsTests
{
    public static TheoryData<NsqErrorCode> KnownCodes => new(Enum.GetValues<NsqErrorCode>().Where(c => c != NsqErrorCode.Unknown));

    [Theory]
    [MemberData(nameof(KnownCodes))]
    public void Every_known_code_round_trips_through_its_wire_text(NsqErrorCode code)
    {
        var text = NsqErrors.ToCodeText(code);

        Assert.StartsWith("E_", text, StringComparison.Ordinal);
        Assert.Equal(code, NsqErrors.ParseCode(text));
    }

    [Theory]
    [MemberData(nameof(KnownCodes))]
    public void Only_fin_req_and_touch_failures_are_not_fatal(NsqErrorCode code)
    {
        var expectedFatal = code is not (NsqErrorCode.FinFailed or NsqErrorCode.ReqFailed or NsqErrorCode.TouchFailed);

        Assert.Equal(expectedFatal, NsqErrors.IsFatal(code));
    }

    [Fact]
    public void The_three_non_fatal_codes_have_nsqds_names()
    {
        Assert.Equal("E_FIN_FAILED", NsqErrors.ToCodeText(NsqErrorCode.FinFailed));
        Assert.Equal("E_REQ_FAILED", NsqErrors.ToCodeText(NsqErrorCode.ReqFailed));
        Assert.Equal("E_TOUCH_FAILED", NsqErrors.ToCodeText(NsqErrorCode.TouchFailed));
    }

    [Fact]
    public void Unknown_codes_are_fatal_and_keep_their_text()
    {
        var error = NsqErrors.ToException("E_SOMETHING_NEW went wrong"u8);

        Assert.Equal(NsqErrorCode.Unknown, error.Code);
        Assert.Equal("E_SOMETHING_NEW", error.CodeText);
        Assert.Equal("went wrong", error.Description);
        Assert.True(error.IsFatal);
        Assert.Throws<ArgumentOutOfRangeException>(() => NsqErrors.ToCodeText(NsqErrorCode.Unknown));
    }

    [Fact]
    public void Error_text_splits_at_the_first_space_only()
    {
        var error = NsqErrors.ToException("E_FIN_FAILED FIN 0123456789abcdef failed ID not in flight"u8);

        Assert.Equal(NsqErrorCode.FinFailed, error.Code);
        Assert.Equal("FIN 0123456789abcdef failed ID not in flight", error.Description);
        Assert.Equal("E_FIN_FAILED FIN 0123456789abcdef failed ID not in flight", error.Message);
        Assert.False(error.IsFatal);
    }

    [Fact]
    public void A_bare_code_has_an_empty_description()
    {
        var error = NsqErrors.ToException("E_INVALID"u8);

        Assert.Equal(NsqErrorCode.Invalid, error.Code);
        Assert.Equal(string.Empty, error.Description);
        Assert.Equal("E_INVALID", error.Message);
    }

    [Fact]
    public void Non_utf8_error_data_does_not_throw()
    {
        var error = NsqErrors.ToException([0xff, 0xfe, 0x20, 0x80]);

        Assert.Equal(NsqErrorCode.Unknown, error.Code);
        Assert.Equal(Encoding.UTF8.GetString([0xff, 0xfe]), error.CodeText);
    }

    [Fact]
    public void Server_exceptions_are_nsq_exceptions() =>
        Assert.IsAssignableFrom<NsqException>(new NsqServerException("E_INVALID", "x"));
}
