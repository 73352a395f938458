namespace Distributed.Shared.Training;

/// <summary>
/// Who computes which shard of the current step (pure bookkeeping, no actors). Shards go in
/// contiguous runs to the live workers (so a worker can sum a run that starts a reduction block
/// and send one gradient for it); a lost worker's missing shards become orphans to give to others; a shard may
/// have been given to several workers (after a deadline), and a result from any of them counts.
/// </summary>
public sealed class ShardDispatcher<TWorker> where TWorker : notnull
{
    private readonly List<TWorker> _live = [];
    private readonly Dictionary<int, TWorker> _owner = [];
    private readonly HashSet<(int Shard, TWorker Worker)> _given = [];

    public IReadOnlyList<TWorker> Live => _live;

    public bool Add(TWorker worker)
    {
        if (_live.Contains(worker)) return false;
        _live.Add(worker);
        return true;
    }

    /// <summary>Removes a worker; returns the shards it held that are still missing (its orphans).</summary>
    public int[] Remove(TWorker worker, IEnumerable<int> missing)
    {
        _live.Remove(worker);
        var orphans = missing.Where(s => _owner.TryGetValue(s, out var o) && o.Equals(worker)).ToArray();
        foreach (var s in orphans) _owner.Remove(s);
        return orphans;
    }

    public void NewStep()
    {
        _owner.Clear();
        _given.Clear();
    }

    /// <summary>The missing shards no live worker is computing.</summary>
    public int[] Unowned(IEnumerable<int> missing) => missing.Where(s => !_owner.ContainsKey(s)).ToArray();

    /// <summary>The missing shards currently held by <paramref name="worker"/>.</summary>
    public int[] OwnedBy(TWorker worker, IEnumerable<int> missing) =>
        missing.Where(s => _owner.TryGetValue(s, out var o) && o.Equals(worker)).ToArray();

    public bool WasGiven(int shard, TWorker worker) => _given.Contains((shard, worker));

    /// <summary>
    /// Hands out shards in contiguous runs, the first worker's run the longest (n shards over W
    /// workers: worker i gets positions [⌈i·n/W⌉, ⌈(i+1)·n/W⌉)), skipping <paramref name="avoid"/>
    /// when another worker is alive. Who computes a shard never changes its contents or its place in the sum.
    /// </summary>
    public IReadOnlyList<(TWorker Worker, int[] Shards)> Assign(IReadOnlyList<int> shards, TWorker? avoid = default)
    {
        var candidates = _live.Where(w => avoid is null || !w.Equals(avoid)).ToList();
        return Assign(shards, candidates.Count > 0 ? candidates : [.. _live]);
    }

    /// <summary>Hands out shards as <see cref="Assign(IReadOnlyList{int}, TWorker)"/> does, among <paramref name="among"/> only (in its order).</summary>
    public IReadOnlyList<(TWorker Worker, int[] Shards)> Assign(IReadOnlyList<int> shards, IReadOnlyList<TWorker> among)
    {
        var candidates = among;
        if (candidates.Count == 0 || shards.Count == 0) return [];
        var sorted = shards.Order().ToArray();
        int n = sorted.Length, workers = candidates.Count;
        int Start(int i) => (i * n + workers - 1) / workers;
        var plan = candidates.Select((w, i) => (Worker: w, Shards: sorted[Start(i)..Start(i + 1)]))
            .Where(p => p.Shards.Length > 0).ToList();
        foreach (var (worker, mine) in plan)
            foreach (int s in mine)
            {
                _owner[s] = worker;
                _given.Add((s, worker));
            }
        return plan;
    }
}
