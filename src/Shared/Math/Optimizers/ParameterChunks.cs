using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Optimizers;

/// <summary>
/// An element-wise update over all of a model's parameters, cut into pieces that the cores claim
/// one at a time (<see cref="CoreTeam"/>): the large weight matrices in halves, the biases whole.
/// </summary>
public static class ParameterChunks
{
    /// <summary>Calls <paramref name="update"/>(parameter index, start, length) once for each piece; pieces are disjoint and cover every element.</summary>
    public static void For(IReadOnlyList<Parameter<float>> parameters, Action<int, int, int> update)
    {
        var pieces = new List<(int Parameter, int Start, int Length)>();
        for (int i = 0; i < parameters.Count; i++)
            foreach (var (start, length) in CoreTeam.Chunks(parameters[i].Count))
                pieces.Add((i, start, length));
        CoreTeam.For(pieces.Count, k => update(pieces[k].Parameter, pieces[k].Start, pieces[k].Length));
    }
}
