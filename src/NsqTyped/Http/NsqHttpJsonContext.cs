using System.Text.Json.Serialization;

namespace NsqTyped.Internal.Http;

/// <summary>Source-generated (AOT-safe) JSON metadata for every HTTP API answer of nsqd and nsqlookupd.</summary>
[JsonSourceGenerationOptions(
    GenerationMode = JsonSourceGenerationMode.Metadata,
    // Newer servers add fields; they must not break older clients.
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(NsqdInfo))]
[JsonSerializable(typeof(NsqdStats))]
[JsonSerializable(typeof(NsqLookupResult))]
[JsonSerializable(typeof(NsqLookupdInfo))]
[JsonSerializable(typeof(NsqLookupTopicsResponse))]
[JsonSerializable(typeof(NsqLookupChannelsResponse))]
[JsonSerializable(typeof(NsqLookupNodesResponse))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class NsqHttpJsonContext : JsonSerializerContext;
