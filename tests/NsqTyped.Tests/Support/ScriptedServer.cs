using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace NsqTyped.Tests.Support;

/// <summary>
/// A TCP listener on 127.0.0.1 whose test drives each accepted connection by hand: read what the
/// client sent, answer with chosen (e.g. recorded) bytes.
/// </summary>
public sealed class ScriptedServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    /// <summary>Starts listening.</summary>
    public ScriptedServer() => _listener.Start();

    /// <summary>The address, <c>127.0.0.1:port</c>.</summary>
    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Accepts the next connection.</summary>
    public async Task<NetworkStream> AcceptAsync()
    {
        var socket = await _listener.AcceptSocketAsync(TestContext.Current.CancellationToken);
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Reads the magic and an IDENTIFY command; returns its JSON body.</summary>
    public static async Task<JsonDocument> ReadMagicAndIdentifyAsync(Stream stream)
    {
        var magic = new byte[4];
        await stream.ReadExactlyAsync(magic, TestContext.Current.CancellationToken);
        Assert.Equal("  V2"u8.ToArray(), magic);
        var line = new byte["IDENTIFY\n".Length];
        await stream.ReadExactlyAsync(line, TestContext.Current.CancellationToken);
        Assert.Equal("IDENTIFY\n"u8.ToArray(), line);
        return JsonDocument.Parse(await ReadSizedAsync(stream));
    }

    /// <summary>Reads <c>[int32 size][data]</c>.</summary>
    public static async Task<byte[]> ReadSizedAsync(Stream stream)
    {
        var size = new byte[4];
        await stream.ReadExactlyAsync(size, TestContext.Current.CancellationToken);
        var data = new byte[BinaryPrimitives.ReadInt32BigEndian(size)];
        await stream.ReadExactlyAsync(data, TestContext.Current.CancellationToken);
        return data;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _listener.Stop();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The wire fixtures recorded from a real nsqd v1.3.0 (<c>tests/conformance</c>).</summary>
public static class ConformanceFixtures
{
    private static readonly Lazy<string> s_directory = new(() => Locate());

    private static string Locate([System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
    {
        // The output folder normally sits under the repository; the source path covers builds placed elsewhere.
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(sourceFile) ?? "" })
        {
            for (var dir = string.IsNullOrEmpty(start) ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tests", "conformance");
                if (Directory.Exists(Path.Combine(candidate, "tcp")))
                {
                    return candidate;
                }
            }
        }

        throw new DirectoryNotFoundException("tests/conformance was not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The bytes nsqd sent in step <paramref name="step"/> (1-based) of a TCP fixture.</summary>
    public static byte[] ServerBytes(string fixture, int step)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(s_directory.Value, "tcp", fixture + ".json")));
        var element = document.RootElement.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("step").GetInt32() == step);
        return Convert.FromHexString(element.GetProperty("raw_hex").GetString()!);
    }
}
