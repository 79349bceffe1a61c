using System.Globalization;
using System.Text;
using NsqTyped.Testing.Nsqd.Broker;

namespace NsqTyped.Testing.Nsqd.Http;

// The client's NsqTyped.NsqdClientStats (an enclosing namespace) would win over the broker's.
using NsqdClientStats = NsqTyped.Testing.Nsqd.Broker.NsqdClientStats;

internal sealed partial class NsqdHttpApi
{
    /// <summary>
    /// <c>GET /stats</c>: text by default, JSON with <c>format=json</c>; <c>topic</c>/<c>channel</c> filters,
    /// <c>include_clients</c> and <c>include_mem</c> (both default true). Reproduces nsqd 1.3.0's
    /// <c>GetStats</c> quirks: an unknown topic gives <c>topics: null, producers: null</c>, a known topic
    /// without the channel gives <c>topics: []</c>, no producer gives <c>producers: null</c>, and a
    /// client's <c>pub_counts</c> holds at most one entry.
    /// </summary>
    private ValueTask<NsqdHttpResult> Stats(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        var query = request.Query;
        if (query.HasError)
        {
            return Done(NsqdHttpResult.V1Error(400, "INVALID_REQUEST"));
        }

        var topicName = query.Get("topic");
        var channelName = query.Get("channel");
        var includeClients = ParseBool(query, "include_clients", true);
        var includeMem = ParseBool(query, "include_mem", true);
        var snapshot = Snapshot(topicName, channelName, includeClients);
        var memory = includeMem ? MemoryStats.Read() : null;
        return Done(query.Get("format") == "json"
            ? NsqdHttpResult.V1Json(StatsJson(snapshot, memory))
            : NsqdHttpResult.V1Bytes(StatsText(snapshot, memory)));
    }

    private StatsSnapshot Snapshot(string topicName, string channelName, bool includeClients)
    {
        IReadOnlyList<NsqdTopic> topics;
        if (topicName.Length == 0)
        {
            topics = _broker.Topics;
        }
        else if (_broker.TryGetTopic(topicName, out var single))
        {
            topics = [single];
        }
        else
        {
            return new StatsSnapshot(null, null);
        }

        var topicStats = new List<TopicStats>(topics.Count);
        foreach (var topic in topics)
        {
            IReadOnlyList<NsqdChannel> channels;
            if (channelName.Length == 0)
            {
                channels = topic.Channels;
            }
            else if (topic.TryGetChannel(channelName, out var channel))
            {
                channels = [channel];
            }
            else
            {
                continue;
            }

            var channelStats = new List<ChannelStats>(channels.Count);
            foreach (var channel in channels)
            {
                var clients = channel.Clients;
                channelStats.Add(new ChannelStats(
                    channel,
                    clients.Count,
                    includeClients ? [.. clients.Select(c => ClientStatsFor(c, topicName))] : null));
            }

            topicStats.Add(new TopicStats(topic, channelStats));
        }

        List<NsqdClientStats>? producers = null;
        if (includeClients)
        {
            foreach (var client in _broker.Clients)
            {
                if (client.IsProducer)
                {
                    (producers ??= []).Add(ClientStatsFor(client, topicName));
                }
            }
        }

        return new StatsSnapshot(topicStats, producers);
    }

    /// <summary>nsqd's <c>clientV2.Stats(topicName)</c>: the loop over pub counts stops after the first (matching) entry.</summary>
    private static NsqdClientStats ClientStatsFor(NsqdClient client, string topicName)
    {
        var stats = client.GetStats();
        foreach (var count in stats.PubCounts)
        {
            if (topicName.Length == 0 || count.Key == topicName)
            {
                return stats with { PubCounts = [count] };
            }
        }

        return stats with { PubCounts = [] };
    }

    private byte[] StatsJson(StatsSnapshot snapshot, MemoryStats? memory)
    {
        var w = new GoJsonWriter()
            .StartObject()
            .Property("version", Options.Version)
            .Property("health", "OK")
            .Property("start_time", _broker.StartTime.ToUnixTimeSeconds())
            .Name("topics");
        if (snapshot.Topics is null)
        {
            w.Null();
        }
        else
        {
            w.StartArray();
            foreach (var topic in snapshot.Topics)
            {
                w.StartObject()
                    .Property("topic_name", topic.Topic.Name)
                    .Name("channels").StartArray();
                foreach (var channel in topic.Channels)
                {
                    var c = channel.Channel;
                    w.StartObject()
                        .Property("channel_name", c.Name)
                        .Property("depth", c.Depth)
                        .Property("backend_depth", 0)
                        .Property("in_flight_count", c.InFlightCount)
                        .Property("deferred_count", c.DeferredCount)
                        .Property("message_count", c.MessageCount)
                        .Property("requeue_count", c.RequeueCount)
                        .Property("timeout_count", c.TimeoutCount)
                        .Property("client_count", channel.ClientCount)
                        .Name("clients");
                    if (channel.Clients is null)
                    {
                        w.Null();
                    }
                    else
                    {
                        w.StartArray();
                        foreach (var client in channel.Clients)
                        {
                            WriteClient(w, client);
                        }

                        w.EndArray();
                    }

                    w.Property("paused", c.IsPaused);
                    WriteLatency(w);
                    w.EndObject();
                }

                w.EndArray()
                    .Property("depth", topic.Topic.Depth)
                    .Property("backend_depth", 0)
                    .Property("message_count", topic.Topic.MessageCount)
                    .Property("message_bytes", topic.Topic.MessageBytes)
                    .Property("paused", topic.Topic.IsPaused);
                WriteLatency(w);
                w.EndObject();
            }

            w.EndArray();
        }

        if (memory is not null)
        {
            w.Name("memory").StartObject()
                .Property("heap_objects", memory.HeapObjects)
                .Property("heap_idle_bytes", memory.HeapIdleBytes)
                .Property("heap_in_use_bytes", memory.HeapInUseBytes)
                .Property("heap_released_bytes", memory.HeapReleasedBytes)
                .Property("gc_pause_usec_100", memory.GcPauseUsec100)
                .Property("gc_pause_usec_99", memory.GcPauseUsec99)
                .Property("gc_pause_usec_95", memory.GcPauseUsec95)
                .Property("next_gc_bytes", memory.NextGcBytes)
                .Property("gc_total_runs", memory.GcTotalRuns)
                .EndObject();
        }

        w.Name("producers");
        if (snapshot.Producers is null)
        {
            w.Null();
        }
        else
        {
            w.StartArray();
            foreach (var producer in snapshot.Producers)
            {
                WriteClient(w, producer);
            }

            w.EndArray();
        }

        return w.EndObject().ToUtf8();
    }

    /// <summary>nsqd's <c>ClientV2Stats</c> in declaration order, with its <c>omitempty</c> fields.</summary>
    private static void WriteClient(GoJsonWriter w, NsqdClientStats client)
    {
        w.StartObject()
            .Property("client_id", client.ClientId)
            .Property("hostname", client.Hostname)
            .Property("version", client.Version)
            .Property("remote_address", client.RemoteAddress)
            .Property("state", client.State)
            .Property("ready_count", client.ReadyCount)
            .Property("in_flight_count", client.InFlightCount)
            .Name("message_count").Number(client.MessageCount)
            .Name("finish_count").Number(client.FinishCount)
            .Name("requeue_count").Number(client.RequeueCount)
            .Property("connect_ts", client.ConnectTime.ToUnixTimeSeconds())
            .Property("sample_rate", client.SampleRate)
            .Property("deflate", client.Deflate)
            .Property("snappy", client.Snappy)
            .Property("user_agent", client.UserAgent);
        if (client.AuthIdentity is not null)
        {
            w.Property("authed", true);
            if (client.AuthIdentity.Length > 0)
            {
                w.Property("auth_identity", client.AuthIdentity);
            }

            if (!string.IsNullOrEmpty(client.AuthIdentityUrl))
            {
                w.Property("auth_identity_url", client.AuthIdentityUrl);
            }
        }

        if (client.PubCounts.Count > 0)
        {
            w.Name("pub_counts").StartArray();
            foreach (var (topic, count) in client.PubCounts)
            {
                w.StartObject().Property("topic", topic).Name("count").Number(count).EndObject();
            }

            w.EndArray();
        }

        w.Property("tls", client.Tls)
            .Property("tls_cipher_suite", client.TlsCipherSuite)
            .Property("tls_version", client.TlsVersion)
            .Property("tls_negotiated_protocol", client.TlsNegotiatedProtocol)
            .Property("tls_negotiated_protocol_is_mutual", client.TlsNegotiatedProtocolIsMutual)
            .EndObject();
    }

    /// <summary>
    /// <c>e2e_processing_latency</c> without <c>--e2e-processing-latency-percentile</c> (not supported here):
    /// nsqd reports no samples.
    /// </summary>
    private static void WriteLatency(GoJsonWriter w) =>
        w.Name("e2e_processing_latency").StartObject().Property("count", 0).Name("percentiles").Null().EndObject();

    /// <summary>nsqd's <c>printStats</c> (the default, text, format).</summary>
    private byte[] StatsText(StatsSnapshot snapshot, MemoryStats? memory)
    {
        var now = _broker.Time.GetUtcNow();
        var sb = new StringBuilder(1024);
        sb.Append("nsqd v").Append(Options.Version).Append(" (built w/dotnet").Append(Environment.Version).Append(")\n");
        sb.Append("start_time ").Append(GoFormat.Rfc3339(_broker.StartTime)).Append('\n');
        sb.Append("uptime ").Append(GoFormat.Duration((now - _broker.StartTime).Ticks * 100)).Append('\n');
        sb.Append("\nHealth: OK\n");
        if (memory is not null)
        {
            sb.Append("\nMemory:\n");
            AppendMemory(sb, "heap_objects", memory.HeapObjects);
            AppendMemory(sb, "heap_idle_bytes", memory.HeapIdleBytes);
            AppendMemory(sb, "heap_in_use_bytes", memory.HeapInUseBytes);
            AppendMemory(sb, "heap_released_bytes", memory.HeapReleasedBytes);
            AppendMemory(sb, "gc_pause_usec_100", memory.GcPauseUsec100);
            AppendMemory(sb, "gc_pause_usec_99", memory.GcPauseUsec99);
            AppendMemory(sb, "gc_pause_usec_95", memory.GcPauseUsec95);
            AppendMemory(sb, "next_gc_bytes", memory.NextGcBytes);
            AppendMemory(sb, "gc_total_runs", memory.GcTotalRuns);
        }

        var topics = snapshot.Topics ?? [];
        sb.Append(topics.Count == 0 ? "\nTopics: None\n" : "\nTopics:");
        foreach (var topic in topics)
        {
            var t = topic.Topic;
            sb.Append('\n').Append(t.IsPaused ? "*P " : "   ")
                .Append('[').Append(GoFormat.Pad(t.Name, 15)).Append("] depth: ").Append(GoFormat.PadNumber(t.Depth, 5))
                .Append(" be-depth: ").Append(GoFormat.PadNumber(0, 5))
                .Append(" msgs: ").Append(GoFormat.PadNumber(t.MessageCount, 8))
                .Append(" e2e%: \n");
            foreach (var channel in topic.Channels)
            {
                var c = channel.Channel;
                sb.Append(c.IsPaused ? "   *P " : "      ")
                    .Append('[').Append(GoFormat.Pad(c.Name, 25)).Append("] depth: ").Append(GoFormat.PadNumber(c.Depth, 5))
                    .Append(" be-depth: ").Append(GoFormat.PadNumber(0, 5))
                    .Append(" inflt: ").Append(GoFormat.PadNumber(c.InFlightCount, 4))
                    .Append(" def: ").Append(GoFormat.PadNumber(c.DeferredCount, 4))
                    .Append(" re-q: ").Append(GoFormat.PadNumber(c.RequeueCount, 5))
                    .Append(" timeout: ").Append(GoFormat.PadNumber(c.TimeoutCount, 5))
                    .Append(" msgs: ").Append(GoFormat.PadNumber(c.MessageCount, 8))
                    .Append(" e2e%: \n");
                foreach (var client in channel.Clients ?? [])
                {
                    sb.Append("        ").Append(ClientLine(client, now)).Append('\n');
                }
            }
        }

        var producers = snapshot.Producers ?? [];
        if (producers.Count == 0)
        {
            sb.Append("\nProducers: None\n");
        }
        else
        {
            sb.Append("\nProducers:\n");
            foreach (var producer in producers)
            {
                sb.Append("   ").Append(ClientLine(producer, now)).Append('\n');
            }
        }

        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static void AppendMemory(StringBuilder sb, string name, long value) =>
        sb.Append("   ").Append(GoFormat.Pad(name, 25)).Append('\t').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');

    /// <summary>nsqd's <c>ClientV2Stats.String()</c>.</summary>
    private static string ClientLine(NsqdClientStats client, DateTimeOffset now)
    {
        // nsqd measures from the connect time truncated to the second, then truncates the result.
        var connected = now - DateTimeOffset.FromUnixTimeSeconds(client.ConnectTime.ToUnixTimeSeconds());
        var duration = GoFormat.Duration(Math.Max(0, (long)connected.TotalSeconds) * 1_000_000_000L);
        var colon = client.RemoteAddress.LastIndexOf(':');
        var port = colon < 0 ? string.Empty : client.RemoteAddress[(colon + 1)..];
        var id = client.Hostname + ":" + port + " " + client.UserAgent;
        var sb = new StringBuilder(160);
        sb.Append('[').Append(client.Version).Append(' ').Append(GoFormat.Pad(id, 21)).Append("] ");
        if (client.PubCounts.Count > 0)
        {
            ulong total = 0;
            foreach (var count in client.PubCounts)
            {
                total += count.Value;
            }

            sb.Append("msgs: ").Append(GoFormat.PadNumber((long)total, 8))
                .Append(" topics: ").Append(string.Join(',', client.PubCounts.Select(p => p.Key + "=" + p.Value.ToString(CultureInfo.InvariantCulture))))
                .Append(" connected: ").Append(duration);
            return sb.ToString();
        }

        sb.Append("state: ").Append(client.State.ToString(CultureInfo.InvariantCulture))
            .Append(" inflt: ").Append(GoFormat.PadNumber(client.InFlightCount, 4))
            .Append(" rdy: ").Append(GoFormat.PadNumber(client.ReadyCount, 4))
            .Append(" fin: ").Append(GoFormat.PadNumber((long)client.FinishCount, 8))
            .Append(" re-q: ").Append(GoFormat.PadNumber((long)client.RequeueCount, 8))
            .Append(" msgs: ").Append(GoFormat.PadNumber((long)client.MessageCount, 8))
            .Append(" connected: ").Append(duration);
        return sb.ToString();
    }

    private sealed record StatsSnapshot(List<TopicStats>? Topics, List<NsqdClientStats>? Producers);

    private sealed record TopicStats(NsqdTopic Topic, List<ChannelStats> Channels);

    private sealed record ChannelStats(NsqdChannel Channel, int ClientCount, List<NsqdClientStats>? Clients);

    /// <summary>
    /// nsqd's <c>memStats</c> from the .NET GC: managed heap in use, committed-but-free ("idle") bytes,
    /// pause percentiles from the last recorded GCs, committed bytes as the size the heap may grow to
    /// before the GC has to find more memory.
    /// There is no object count in .NET; <c>heap_objects</c> is 0.
    /// </summary>
    private sealed record MemoryStats(
        long HeapObjects,
        long HeapIdleBytes,
        long HeapInUseBytes,
        long HeapReleasedBytes,
        long GcPauseUsec100,
        long GcPauseUsec99,
        long GcPauseUsec95,
        long NextGcBytes,
        long GcTotalRuns)
    {
        public static MemoryStats Read()
        {
            var info = GC.GetGCMemoryInfo();
            var pauses = Enumerable.Range(0, 3)
                .Select(i => GC.GetGCMemoryInfo((GCKind)(i + 1)))
                .Where(g => g.Index > 0)
                .SelectMany(g => g.PauseDurations.ToArray())
                .Select(d => (long)d.TotalMicroseconds)
                .Order()
                .ToArray();
            var inUse = info.HeapSizeBytes;
            return new MemoryStats(
                0,
                Math.Max(0, info.TotalCommittedBytes - inUse),
                inUse,
                0,
                Percentile(pauses, 100),
                Percentile(pauses, 99),
                Percentile(pauses, 95),
                info.TotalCommittedBytes,
                GC.CollectionCount(0));
        }

        private static long Percentile(long[] sorted, int percent) =>
            sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(sorted.Length * percent / 100.0) - 1, 0, sorted.Length - 1)];
    }
}
