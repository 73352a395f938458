namespace Distributed.Shared.Layers;

/// <summary>
/// What a training forward pass knows besides its input: the run's seed, the global step and, for
/// each row of the batch, the sample it holds (its index in the training set). Stochastic layers
/// (<see cref="Dropout{T}"/>) key their randomness by these, never by who computes a row or when,
/// so a sample gets the same mask on any worker, thread or shard grouping. A forward pass without
/// a context is inference: dropout passes values through.
/// </summary>
public sealed record ForwardContext(int Seed, long Step, int[] Samples);
