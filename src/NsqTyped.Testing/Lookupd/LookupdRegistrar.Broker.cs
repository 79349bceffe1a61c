using System.Net;
using Microsoft.Extensions.Logging;
using NsqTyped.Testing.Nsqd.Broker;
using NsqTyped.Testing.Nsqd.Http;

namespace NsqTyped.Testing.Lookupd;

internal sealed partial class LookupdRegistrar
{
    /// <summary>
    /// Registers an embedded nsqd with its lookupds: announces the broker's topics and channels, follows
    /// its create/delete events and, when <paramref name="runtimeConfig"/> is given, the address list set
    /// through <c>PUT /config/nsqlookupd_tcp_addresses</c>. Call it once both listeners are bound (IDENTIFY
    /// carries their ports). With no address it opens nothing until addresses are configured.
    /// </summary>
    public static LookupdRegistrar Attach(NsqdBroker broker, NsqdRuntimeConfig? runtimeConfig)
    {
        ArgumentNullException.ThrowIfNull(broker);
        var options = broker.Options;
        var identity = new LookupdPeerIdentity(
            options.BroadcastAddress,
            broker.TcpEndPoint?.Port ?? 0,
            broker.HttpEndPoint?.Port ?? 0,
            options.Hostname ?? Dns.GetHostName(),
            options.Version);
        var addresses = runtimeConfig is null ? options.LookupdTcpAddresses : runtimeConfig.LookupdTcpAddresses;
        var registrar = new LookupdRegistrar(
            identity,
            addresses,
            () => Snapshot(broker),
            broker.LoggerFactory.CreateLogger("NsqTyped.Testing.Nsqd.Lookup"));

        broker.TopicCreated += topic => registrar.TopicCreated(topic.Name);
        broker.TopicDeleted += topic => registrar.TopicDeleted(topic.Name);
        broker.ChannelCreated += channel => registrar.ChannelCreated(channel.Topic.Name, channel.Name);
        broker.ChannelDeleted += channel => registrar.ChannelDeleted(channel.Topic.Name, channel.Name);
        if (runtimeConfig is not null)
        {
            runtimeConfig.LookupdTcpAddressesChanged += registrar.SetAddresses;
        }

        return registrar;
    }

    /// <summary>nsqd's connect callback: a topic without channels registers alone, otherwise each channel does.</summary>
    private static List<(string Topic, string? Channel)> Snapshot(NsqdBroker broker)
    {
        var registrations = new List<(string, string?)>();
        foreach (var topic in broker.Topics)
        {
            if (topic.IsDeleted)
            {
                continue;
            }

            var channels = topic.Channels.Where(c => !c.IsDeleted).ToList();
            if (channels.Count == 0)
            {
                registrations.Add((topic.Name, null));
                continue;
            }

            foreach (var channel in channels)
            {
                registrations.Add((topic.Name, channel.Name));
            }
        }

        return registrations;
    }
}
