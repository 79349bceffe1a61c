using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NsqTyped;

namespace HostedWorker;

/// <summary>Settings of the sample itself (section "Worker").</summary>
public sealed class WorkerOptions
{
    /// <summary>Time between two published payments.</summary>
    public TimeSpan PublishInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Stop the host after this many handled payments; 0 runs until Ctrl+C.</summary>
    public int StopAfter { get; set; }
}

/// <summary>A singleton the scoped handlers report to.</summary>
public sealed class LedgerTotals(IHostApplicationLifetime lifetime, IOptions<WorkerOptions> options, ILogger<LedgerTotals> logger)
{
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _handled;

    public int Handled => Volatile.Read(ref _handled);

    /// <summary>Completes when the first payment was recorded.</summary>
    public Task FirstRecorded => _first.Task;

    public void Record(PaymentReceived payment)
    {
        var handled = Interlocked.Increment(ref _handled);
        _first.TrySetResult();
        var stopAfter = options.Value.StopAfter;
        if (stopAfter > 0 && handled == stopAfter)
        {
            logger.LogInformation("Handled {Count} payments; stopping the host (Worker:StopAfter)", handled);
            lifetime.StopApplication();
        }
    }
}

/// <summary>
/// The handler. <c>AddNsqTypedHandlers()</c> registers this class as scoped; NsqTyped.Hosting creates a scope per
/// message, so a scoped dependency (a DbContext, say) lives exactly as long as one message.
/// </summary>
public sealed class LedgerHandler(LedgerTotals totals, ILogger<LedgerHandler> logger)
{
    [NsqHandler(Channel = "ledger")]
    public async ValueTask RecordAsync(PaymentReceived payment, NsqMessageContext context, CancellationToken cancellationToken)
    {
        // Stands in for real work; the token fires only if the host's shutdown timeout ends the drain.
        await Task.Delay(50, cancellationToken);
        logger.LogInformation("Recorded payment #{Sequence}: {Account} {Amount} (attempt {Attempts})", payment.Sequence, payment.Account, payment.Amount, context.Attempts);
        totals.Record(payment);
    }
}

/// <summary>Publishes a payment every <see cref="WorkerOptions.PublishInterval"/> through the generated method on the injected <see cref="INsqPublisher"/>.</summary>
public sealed class PaymentPublisher(INsqPublisher publisher, IOptions<WorkerOptions> options, ILogger<PaymentPublisher> logger) : BackgroundService
{
    private static readonly string[] Accounts = ["acme", "globex", "initech", "umbrella"];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PublishInterval);
        var sequence = 0;
        do
        {
            sequence++;
            var payment = new PaymentReceived(sequence, Accounts[sequence % Accounts.Length], 10m * sequence, DateTimeOffset.UtcNow);
            try
            {
                await publisher.PublishPaymentReceivedAsync(payment, stoppingToken);
                logger.LogInformation("Published payment #{Sequence}", sequence);
            }
            catch (NsqException ex)
            {
                // Never silently dropped: a publish either completes or throws; this sample just reports it.
                logger.LogWarning(ex, "Publishing payment #{Sequence} failed", sequence);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }
}
