namespace Distributed.Shared.Training;

/// <summary>The limits a run engine decides by.</summary>
/// <param name="MinWorkers">Workers to wait for before training starts.</param>
/// <param name="MaxBadResults">Bad results, or step deadlines in a row passed still holding shards, after which a worker's node is excluded.</param>
/// <param name="StepTimeout">A worker silent this long within a step loses its shards to the others (also the grace to finish a step on stop).</param>
/// <param name="WorkerTimeout">How long to wait with no worker alive (or too few to start) before giving up.</param>
/// <param name="Peers">The peer exchange: workers reduce-scatter their gradients among themselves and are full replicas; the coordinator gets reduced slices and reports.</param>
/// <param name="StateEvery">With the peer exchange: the coordinator takes the replicas' state every this many steps (its checkpoint interval; 0: epoch ends only).</param>
public sealed record RunRules(int MinWorkers, int MaxBadResults, TimeSpan StepTimeout, TimeSpan WorkerTimeout, bool Peers = false, int StateEvery = 0);

public enum RunPhase
{
    WaitingForWorkers,
    Training,
    Done,
}

/// <summary>The deadlines a run engine asks its host to keep.</summary>
public enum RunTimer
{
    /// <summary>The current step's results are due (payload: the step).</summary>
    Step,

    /// <summary>No worker alive, or too few to start.</summary>
    NoWorkers,

    /// <summary>A stop was requested: the step under way is abandoned when this passes.</summary>
    Abandon,
}

/// <summary>One piece result as the engine judges it (the wire's PieceResult, less its transport).</summary>
/// <param name="ForThisRun">False when the result names another run.</param>
/// <param name="Release">Returns the gradient's buffer to its pool once it is no longer needed.</param>
/// <param name="Attempt">With the peer exchange: the attempt of the step it was computed for (a step is attempted again when a worker is lost).</param>
public sealed record OfferedPiece(bool ForThisRun, long Step, int First, int Count, int Samples, double LossSum, int Correct,
    float[] Gradient, double ComputeMilliseconds, Action? Release = null, int Attempt = 0);

/// <summary>How a run ended, for the host to tell workers and its caller.</summary>
public enum RunEnding
{
    Finished,
    Interrupted,
    Failed,
}

public sealed partial class RunEngine<TWorker>
{
    /// <summary>What the engine asks its host to do, in order.</summary>
    public abstract record RunCommand
    {
        /// <summary>Accept the worker; <paramref name="Joining"/>: it is new to the run and needs a data-plane ticket.</summary>
        public sealed record Welcome(TWorker Worker, bool Joining) : RunCommand;

        public sealed record Refuse(TWorker Worker, string Reason) : RunCommand;

        /// <summary>A new member of the run: watch it (and count its work).</summary>
        public sealed record Watch(TWorker Worker, string Name) : RunCommand;

        /// <summary>The worker is out of the run: stop watching it, close its data connection.</summary>
        public sealed record Release(TWorker Worker) : RunCommand;

        /// <summary>Training begins (after the first workers registered).</summary>
        public sealed record TrainingStarted : RunCommand;

        /// <summary>A step begins: the model holds the weights its work is computed from.</summary>
        public sealed record StepStarted(long Step) : RunCommand;

        /// <summary>
        /// Send the worker these pieces of the step (shards [First, First+Count), summed per piece);
        /// with the peer exchange, <paramref name="Round"/> says how this attempt's gradients travel.
        /// </summary>
        public sealed record Compute(TWorker Worker, long Step, IReadOnlyList<(int First, int Count)> Pieces, PeerRound? Round = null) : RunCommand;

        /// <summary>
        /// One attempt of a step under the peer exchange: slice k of the parameters is reduced by
        /// <paramref name="Owners"/>[k]; <paramref name="WithState"/>: the worker is not a current
        /// replica and gets the run's weights and optimizer state; <paramref name="Applied"/>: the step
        /// before completed with that attempt at that learning rate (null for the run's first step here).
        /// </summary>
        /// <paramref name="Early"/>: work for the next step, sent before the step before it completed
        /// (its samples are the next batch's; the replica applies the step before once its slices are in).
        public sealed record PeerRound(int Attempt, IReadOnlyList<TWorker> Owners, bool WithState, (long Step, int Attempt, float Rate)? Applied, bool Early = false);

        /// <summary>
        /// Peer exchange: ask the worker to apply <paramref name="Step"/> (completed with
        /// <paramref name="Attempt"/> at <paramref name="Rate"/>) and send its replica's state.
        /// </summary>
        public sealed record FetchState(TWorker Worker, long Step, int Attempt, float Rate) : RunCommand;

        /// <summary>An accepted result: the worker computed <paramref name="Shards"/> shards of <paramref name="Samples"/> samples.</summary>
        public sealed record Credit(TWorker Worker, int Shards, int Samples, double ComputeMilliseconds) : RunCommand;

        /// <summary>The step lost a worker or a result and will complete later than it would have.</summary>
        public sealed record Disturbed : RunCommand;

        public sealed record Arm(RunTimer Timer, long Step, TimeSpan After) : RunCommand;

        public sealed record Cancel(RunTimer Timer) : RunCommand;

        public sealed record CancelAll : RunCommand;

        /// <summary>The step completed (the optimizer stepped here or on the replicas); <paramref name="Epoch"/> is set when the step ended an epoch.</summary>
        public sealed record StepCompleted(long Step, EpochMetrics? Epoch) : RunCommand;

        /// <summary>
        /// The run is over: tell the live workers and the caller. <paramref name="Reason"/> and
        /// <paramref name="Error"/> say why for an interrupted or failed run.
        /// </summary>
        public sealed record Ended(RunEnding How, string? Reason = null, Exception? Error = null) : RunCommand;

        public sealed record Log(string Line) : RunCommand;
    }
}
