using System.Threading.Channels;

namespace NsqTyped.Tests.Support;

/// <summary>A subscribed <see cref="NsqdConnection"/> whose messages land in a channel the test reads.</summary>
public sealed class TestConsumer : IAsyncDisposable
{
    private readonly Channel<NsqMessage> _messages = Channel.CreateUnbounded<NsqMessage>();

    private TestConsumer(NsqdConnection connection)
    {
        Connection = connection;
        connection.MessageReceived += (_, e) => _messages.Writer.TryWrite(e.Message);
    }

    /// <summary>The subscribed connection.</summary>
    public NsqdConnection Connection { get; }

    /// <summary>Connects, subscribes to <paramref name="topic"/>/<paramref name="channel"/> and sends RDY.</summary>
    public static async Task<TestConsumer> StartAsync(string address, string topic, string channel = "test", NsqdConnectionOptions? options = null, long ready = 100)
    {
        var connection = new NsqdConnection(address, options);
        var consumer = new TestConsumer(connection);
        await connection.ConnectAsync(TestContext.Current.CancellationToken);
        await connection.SubscribeAsync(topic, channel, TestContext.Current.CancellationToken);
        await connection.ReadyAsync(ready, TestContext.Current.CancellationToken);
        return consumer;
    }

    /// <summary>The next message, failing the test if none arrives within <paramref name="timeout"/> (5 s by default).</summary>
    public async Task<NsqMessage> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(timeout ?? TimeSpan.FromSeconds(5));
        try
        {
            return await _messages.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"No message arrived within {(timeout ?? TimeSpan.FromSeconds(5)).TotalMilliseconds:0} ms.");
            throw;
        }
    }

    /// <summary>Whether a message is waiting right now.</summary>
    public bool TryNext(out NsqMessage? message) => _messages.Reader.TryRead(out message);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
