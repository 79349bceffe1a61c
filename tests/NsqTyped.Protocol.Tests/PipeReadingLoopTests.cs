using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace NsqTyped.Protocol.Tests;

/// <summary>The reading loop shown in docs/protocol.md, run over a real Pipe fed in small chunks.</summary>
public class PipeReadingLoopTests
{
    [Fact]
    public async Task Documented_pipe_loop_reads_frames_that_arrive_in_pieces()
    {
        var writer = new ArrayBufferWriter<byte>();
        foreach (var frame in new[]
        {
            NsqFrameReaderTests.Frame(0, "OK"u8),
            NsqFrameReaderTests.Frame(2, NsqFrameReaderTests.MessageData(1, 1, "0123456789abcdef", "first")),
            NsqFrameReaderTests.Frame(0, "_heartbeat_"u8),
            NsqFrameReaderTests.Frame(1, "E_FIN_FAILED FIN 0123456789abcdef failed"u8),
        })
        {
            writer.Write(frame);
        }

        var pipe = new Pipe();
        var token = TestContext.Current.CancellationToken;
        var producer = Task.Run(async () =>
        {
            var bytes = writer.WrittenMemory;
            for (var i = 0; i < bytes.Length; i += 7)
            {
                await pipe.Writer.WriteAsync(bytes[i..Math.Min(i + 7, bytes.Length)], token);
            }

            await pipe.Writer.CompleteAsync();
        }, token);

        var seen = new List<string>();
        var reader = pipe.Reader;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await reader.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            try
            {
                while (NsqFrameReader.TryReadFrame(ref buffer, out var frame))
                {
                    seen.Add(frame.Type switch
                    {
                        NsqFrameType.Message => "message " + Encoding.ASCII.GetString(frame.AsMessage().Body.ToArray()),
                        NsqFrameType.Error => "error " + frame.ToServerException().Code,
                        _ when frame.IsHeartbeat => "heartbeat",
                        _ => "response " + Encoding.ASCII.GetString(frame.Data.ToArray()),
                    });
                }

                if (result.IsCompleted)
                {
                    Assert.True(buffer.IsEmpty);
                    break;
                }
            }
            finally
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }

        await producer;
        Assert.Equal(["response OK", "message first", "heartbeat", "error FinFailed"], seen);
    }
}
