using NsqTyped.Protocol;
using NsqTyped.Testing.Nsqd.Broker;

namespace NsqTyped.Testing.Nsqd.Http;

internal sealed partial class NsqdHttpApi
{
    private ValueTask<NsqdHttpResult> CreateTopic(NsqdHttpRequest request, CancellationToken cancellationToken) =>
        Done(TryGetTopicFromQuery(request, out _, out var error) ? NsqdHttpResult.V1Empty() : error);

    private ValueTask<NsqdHttpResult> EmptyTopic(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        if (!TryGetTopicName(request, out var name, out var error))
        {
            return Done(error);
        }

        if (!NsqNames.IsValidTopicName(name))
        {
            return Done(NsqdHttpResult.V1Error(400, "INVALID_TOPIC"));
        }

        if (!_broker.TryGetTopic(name, out var topic))
        {
            return Done(NsqdHttpResult.V1Error(404, "TOPIC_NOT_FOUND"));
        }

        topic.Empty();
        return Done(NsqdHttpResult.V1Empty());
    }

    /// <summary><c>/topic/delete</c>: nsqd does not validate the name here, an invalid one is simply not found.</summary>
    private ValueTask<NsqdHttpResult> DeleteTopic(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        if (!TryGetTopicName(request, out var name, out var error))
        {
            return Done(error);
        }

        return Done(_broker.DeleteTopic(name) ? NsqdHttpResult.V1Empty() : NsqdHttpResult.V1Error(404, "TOPIC_NOT_FOUND"));
    }

    private ValueTask<NsqdHttpResult> PauseTopic(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        if (!TryGetTopicName(request, out var name, out var error))
        {
            return Done(error);
        }

        if (!_broker.TryGetTopic(name, out var topic))
        {
            return Done(NsqdHttpResult.V1Error(404, "TOPIC_NOT_FOUND"));
        }

        if (request.Path.Contains("unpause", StringComparison.Ordinal))
        {
            topic.Unpause();
        }
        else
        {
            topic.Pause();
        }

        return Done(NsqdHttpResult.V1Empty());
    }

    private ValueTask<NsqdHttpResult> CreateChannel(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        if (!TryGetExistingTopic(request, out var topic, out var channelName, out var error))
        {
            return Done(error);
        }

        topic.GetOrCreateChannel(channelName);
        return Done(NsqdHttpResult.V1Empty());
    }

    private ValueTask<NsqdHttpResult> EmptyChannel(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        if (!TryGetExistingTopic(request, out var topic, out var channelName, out var error))
        {
            return Done(error);
        }

        if (!topic.TryGetChannel(channelName, out var channel))
        {
            return Done(NsqdHttpResult.V1Error(404, "CHANNEL_NOT_FOUND"));
        }

        channel.Empty();
        return Done(NsqdHttpResult.V1Empty());
    }

    private ValueTask<NsqdHttpResult> DeleteChannel(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        if (!TryGetExistingTopic(request, out var topic, out var channelName, out var error))
        {
            return Done(error);
        }

        return Done(topic.DeleteChannel(channelName) ? NsqdHttpResult.V1Empty() : NsqdHttpResult.V1Error(404, "CHANNEL_NOT_FOUND"));
    }

    private ValueTask<NsqdHttpResult> PauseChannel(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        if (!TryGetExistingTopic(request, out var topic, out var channelName, out var error))
        {
            return Done(error);
        }

        if (!topic.TryGetChannel(channelName, out var channel))
        {
            return Done(NsqdHttpResult.V1Error(404, "CHANNEL_NOT_FOUND"));
        }

        if (request.Path.Contains("unpause", StringComparison.Ordinal))
        {
            channel.Unpause();
        }
        else
        {
            channel.Pause();
        }

        return Done(NsqdHttpResult.V1Empty());
    }

    /// <summary>nsqd's <c>NewReqParams</c> + <c>Get("topic")</c>.</summary>
    private static bool TryGetTopicName(NsqdHttpRequest request, out string name, out NsqdHttpResult error)
    {
        name = string.Empty;
        if (request.Query.HasError)
        {
            error = NsqdHttpResult.V1Error(400, "INVALID_REQUEST");
            return false;
        }

        if (!request.Query.TryGet("topic", out name))
        {
            error = NsqdHttpResult.V1Error(400, "MISSING_ARG_TOPIC");
            return false;
        }

        error = null!;
        return true;
    }

    /// <summary>nsqd's <c>getExistingTopicFromQuery</c> (<c>http_api.GetTopicChannelArgs</c> + an existing topic).</summary>
    private bool TryGetExistingTopic(NsqdHttpRequest request, out NsqdTopic topic, out string channelName, out NsqdHttpResult error)
    {
        topic = null!;
        channelName = string.Empty;
        var query = request.Query;
        error = query.HasError ? NsqdHttpResult.V1Error(400, "INVALID_REQUEST")
            : !query.TryGet("topic", out var topicName) ? NsqdHttpResult.V1Error(400, "MISSING_ARG_TOPIC")
            : !NsqNames.IsValidTopicName(topicName) ? NsqdHttpResult.V1Error(400, "INVALID_ARG_TOPIC")
            : !query.TryGet("channel", out channelName) ? NsqdHttpResult.V1Error(400, "MISSING_ARG_CHANNEL")
            : !NsqNames.IsValidChannelName(channelName) ? NsqdHttpResult.V1Error(400, "INVALID_ARG_CHANNEL")
            : !_broker.TryGetTopic(topicName, out topic) ? NsqdHttpResult.V1Error(404, "TOPIC_NOT_FOUND")
            : null!;
        return error is null;
    }
}
