using NsqTyped.Tests.Connection;
using NsqTyped.Tests.Support;

namespace NsqTyped.Tests;

/// <summary>Every exception the client libraries can hand to users, directly or as an inner exception, is a public type they can catch.</summary>
public sealed class PublicExceptionTests
{
    [Fact]
    public void Every_exception_type_of_the_client_libraries_is_public()
    {
        var assemblies = new[] { typeof(NsqException).Assembly, typeof(NsqdConnection).Assembly };
        var hidden = assemblies
            .SelectMany(a => a.GetTypes())
            .Where(t => typeof(Exception).IsAssignableFrom(t) && !t.IsVisible)
            .Select(t => t.FullName)
            .ToList();

        Assert.Empty(hidden);
    }

    [Fact]
    public async Task A_publish_on_a_closed_connection_surfaces_the_public_NsqNotSentException_with_the_close_reason()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = new ScriptedServer();
        var (connection, stream) = await PublishCoalescingTests.ConnectAsync(server);
        await using var _ = connection;

        // The server goes away: the connection closes with a reason, and later publishes were never sent.
        await stream.DisposeAsync();
        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(5), ct);

        var error = await Assert.ThrowsAsync<NsqNotSentException>(async () => await connection.PublishAsync("public.exceptions", "x"u8.ToArray(), ct));
        Assert.True(typeof(NsqNotSentException).IsPublic);
        Assert.IsAssignableFrom<NsqConnectionException>(error);
        Assert.NotNull(error.InnerException);
    }
}
