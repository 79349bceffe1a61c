using System.Buffers;
using System.Text;
using System.Text.Json;
using NsqTyped.Conformance;

namespace NsqTyped.Protocol.Tests;

public class IdentifyJsonTests
{
    [Fact]
    public void Identify_response_serializes_in_nsqds_key_order()
    {
        var frame = ConformanceFixtures.Load("tcp/identify_feature_negotiation").AllFrames()
            .Select(x => x.Frame)
            .Single(f => f.DataJson is { ValueKind: JsonValueKind.Object } json && json.TryGetProperty("max_rdy_count", out _));
        var values = frame.DataJson!.Value;

        // Built from the recorded values rather than parsed, so only the model decides names and order.
        var response = new NsqIdentifyResponse
        {
            MaxRdyCount = values.GetProperty("max_rdy_count").GetInt64(),
            Version = values.GetProperty("version").GetString()!,
            MaxMsgTimeout = values.GetProperty("max_msg_timeout").GetInt64(),
            MsgTimeout = values.GetProperty("msg_timeout").GetInt64(),
            TlsV1 = values.GetProperty("tls_v1").GetBoolean(),
            Deflate = values.GetProperty("deflate").GetBoolean(),
            DeflateLevel = values.GetProperty("deflate_level").GetInt32(),
            MaxDeflateLevel = values.GetProperty("max_deflate_level").GetInt32(),
            Snappy = values.GetProperty("snappy").GetBoolean(),
            SampleRate = values.GetProperty("sample_rate").GetInt32(),
            AuthRequired = values.GetProperty("auth_required").GetBoolean(),
            OutputBufferSize = values.GetProperty("output_buffer_size").GetInt32(),
            OutputBufferTimeout = values.GetProperty("output_buffer_timeout").GetInt64(),
        };

        Assert.Equal(frame.DataText, Encoding.UTF8.GetString(response.ToUtf8Json()));
    }

    [Fact]
    public void Identify_response_parses_every_field()
    {
        var response = NsqIdentifyResponse.Parse("""
            {"max_rdy_count":10,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":5000,"tls_v1":true,"deflate":true,
             "deflate_level":3,"max_deflate_level":6,"snappy":false,"sample_rate":20,"auth_required":true,
             "output_buffer_size":1024,"output_buffer_timeout":100,"unknown_future_field":[1]}
            """u8);

        Assert.Equal(
            new NsqIdentifyResponse
            {
                MaxRdyCount = 10, Version = "1.3.0", MaxMsgTimeout = 900000, MsgTimeout = 5000, TlsV1 = true, Deflate = true,
                DeflateLevel = 3, MaxDeflateLevel = 6, Snappy = false, SampleRate = 20, AuthRequired = true,
                OutputBufferSize = 1024, OutputBufferTimeout = 100,
            },
            response);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"max_rdy_count\":\"many\"}")]
    [InlineData("")]
    [InlineData("null")]
    public void Malformed_identify_responses_are_protocol_errors(string json) =>
        Assert.Throws<NsqProtocolException>(() => NsqIdentifyResponse.Parse(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void Identify_request_round_trips_and_omits_unset_values()
    {
        var request = new NsqIdentifyRequest
        {
            ClientId = "c1", Hostname = "h", UserAgent = "nsqtyped/0.1.0", FeatureNegotiation = true, HeartbeatInterval = -1,
            OutputBufferSize = 64, OutputBufferTimeout = -1, TlsV1 = false, Snappy = true, Deflate = false, DeflateLevel = 6,
            SampleRate = 10, MsgTimeout = 60000,
        };

        var json = request.ToUtf8Json();
        var back = JsonSerializer.Deserialize(json, NsqProtocolJsonContext.Default.NsqIdentifyRequest);

        Assert.Equal(request, back);
        Assert.Equal("""{"client_id":"c1","feature_negotiation":false}""", Encoding.UTF8.GetString(new NsqIdentifyRequest { ClientId = "c1" }.ToUtf8Json()));
    }

    [Fact]
    public void Recorded_identify_requests_serialize_to_the_recorded_json()
    {
        // Each IDENTIFY body the capture sent that the model can express must come back byte for byte.
        var checkedCount = 0;
        foreach (var fixture in ConformanceFixtures.LoadAllTcp())
        {
            foreach (var step in fixture.Steps.Where(s => s.SendHex is not null))
            {
                var bytes = ConformanceHex.Parse(step.SendHex!);
                var buffer = new System.Buffers.ReadOnlySequence<byte>(bytes);
                if (bytes.AsSpan().StartsWith(NsqCommandWriter.MagicV2))
                {
                    buffer = buffer.Slice(4);
                }

                try
                {
                    if (!NsqCommandReader.TryReadCommand(ref buffer, out var command) || command.Verb != NsqCommandVerb.Identify)
                    {
                        continue;
                    }

                    var body = command.Body.ToArray();
                    var request = JsonSerializer.Deserialize(body, NsqProtocolJsonContext.Default.NsqIdentifyRequest);
                    using var original = JsonDocument.Parse(body);
                    if (request is null || !original.RootElement.EnumerateObject().All(p => KnownRequestKeys.Contains(p.Name)))
                    {
                        continue;
                    }

                    var keysInModelOrder = original.RootElement.EnumerateObject().Select(p => Array.IndexOf(KnownRequestKeys, p.Name)).ToArray();
                    if (!keysInModelOrder.SequenceEqual(keysInModelOrder.Order()) || !original.RootElement.TryGetProperty("feature_negotiation", out _))
                    {
                        continue;
                    }

                    Assert.Equal(Encoding.UTF8.GetString(body), Encoding.UTF8.GetString(request.ToUtf8Json()));
                    checkedCount++;
                }
                catch (Exception ex) when (ex is JsonException or NsqProtocolException)
                {
                    // Deliberately malformed IDENTIFY bodies are another test's subject.
                }
            }
        }

        Assert.True(checkedCount >= 50, $"only {checkedCount} IDENTIFY bodies were checked");
    }

    private static readonly string[] KnownRequestKeys =
    [
        "client_id", "hostname", "user_agent", "feature_negotiation", "heartbeat_interval", "output_buffer_size",
        "output_buffer_timeout", "tls_v1", "snappy", "deflate", "deflate_level", "sample_rate", "msg_timeout",
    ];

    [Fact]
    public void Auth_response_parses_and_serializes_in_nsqds_order()
    {
        var json = """{"identity":"user","identity_url":"http://x/user","permission_count":2}""";

        var response = NsqAuthResponse.Parse(Encoding.UTF8.GetBytes(json));

        Assert.Equal(new NsqAuthResponse { Identity = "user", IdentityUrl = "http://x/user", PermissionCount = 2 }, response);
        Assert.Equal(json, Encoding.UTF8.GetString(response.ToUtf8Json()));
        Assert.Throws<NsqProtocolException>(() => NsqAuthResponse.Parse("[]"u8));
    }
}
