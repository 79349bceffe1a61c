namespace NsqTyped.Testing.Tests.Tcp;

/// <summary>Maps a fixture's nsqd command line to options for a test server on free ports.</summary>
internal static class TcpFixtureOptions
{
    public static EmbeddedNsqdOptions FromFlags(IReadOnlyList<string> flags, string? authAddress)
    {
        var mapped = flags.Select(flag => flag switch
        {
            // Fixtures record nsqd's fixed ports; tests run side by side, so each server takes free ones.
            _ when flag.StartsWith("--tcp-address=", StringComparison.Ordinal) => "--tcp-address=127.0.0.1:0",
            _ when flag.StartsWith("--http-address=", StringComparison.Ordinal) => "--http-address=127.0.0.1:0",
            _ when flag.StartsWith("--https-address=", StringComparison.Ordinal) => "--https-address=127.0.0.1:0",
            _ when flag.StartsWith("--auth-http-address=", StringComparison.Ordinal) && authAddress is not null => "--auth-http-address=" + authAddress,
            _ => flag.Replace("<tls-dir>", Support.TestCertificates.ServerDirectory, StringComparison.Ordinal),
        });
        return EmbeddedNsqdFlags.Parse(mapped);
    }

    public static TimeSpan MaxReqTimeout(IReadOnlyList<string> flags)
    {
        var flag = flags.LastOrDefault(f => f.StartsWith("--max-req-timeout=", StringComparison.Ordinal));
        return flag is null ? TimeSpan.FromHours(1) : EmbeddedNsqdFlags.ParseDuration("max-req-timeout", flag["--max-req-timeout=".Length..]);
    }
}
