using System.Text.Json.Serialization;

namespace NsqTyped.Protocol;

/// <summary>Source-generated JSON metadata for the protocol's JSON bodies (AOT-safe).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(NsqIdentifyRequest))]
[JsonSerializable(typeof(NsqIdentifyResponse))]
[JsonSerializable(typeof(NsqAuthResponse))]
public sealed partial class NsqProtocolJsonContext : JsonSerializerContext;
