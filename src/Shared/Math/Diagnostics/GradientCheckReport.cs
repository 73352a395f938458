using Distributed.Shared.Layers;
using Distributed.Shared.Losses;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Diagnostics;

/// <summary>One line of the gradient-check table.</summary>
/// <param name="Check">What was checked.</param>
/// <param name="Measure">How it is measured (relative error vs finite differences, absolute difference, ...).</param>
/// <param name="Value">The measured value.</param>
/// <param name="Limit">The bound the value must respect (≤), or must exceed when <paramref name="ExpectFailure"/>.</param>
/// <param name="ExpectFailure">True for the deliberately wrong backward: it must be caught.</param>
public sealed record GradientCheckRow(string Check, string Measure, double Value, double Limit, bool ExpectFailure = false)
{
    public bool Passed => ExpectFailure ? Value > Limit : Value <= Limit && double.IsFinite(Value);
}

/// <summary>
/// The project's gradient proof, in double precision: every layer and loss against central
/// differences, a whole model's parameters, the fused vs the separate softmax/cross-entropy paths,
/// extreme logits, and the classic wrong softmax backward (which must be caught).
/// </summary>
public static class GradientCheckReport
{
    public const double RelativeLimit = 1e-6;
    public const double AgreementLimit = 1e-12;

    public static IReadOnlyList<GradientCheckRow> Run(int seed = 1)
    {
        var rng = SeededRandom.For(seed, "gradcheck");
        var rows = new List<GradientCheckRow>();
        rows.AddRange(CheckLayer("Dense 5→3", new Dense<double>(5, 3, "dense"), Random(rng, 4, 5), rng, initDense: true));
        rows.AddRange(CheckLayer("ReLU", new Relu<double>(), AwayFromZero(Random(rng, 4, 6)), rng));
        rows.AddRange(CheckLayer("Conv2d 2@5×5→3, kernel 3, padding 1", new Conv2d<double>(new(2, 5, 5), 3, kernel: 3, padding: 1), Random(rng, 3, 50), rng, initDense: true));
        rows.AddRange(CheckLayer("Conv2d 2@6×7→2, kernel 3, stride 2", new Conv2d<double>(new(2, 6, 7), 2, kernel: 3, stride: 2), Random(rng, 2, 84), rng, initDense: true));
        // One column wide with padding 1: some kernel taps lie outside the image for every output.
        rows.AddRange(CheckLayer("Conv2d 2@5×1→2, kernel 3, stride 2, padding 1", new Conv2d<double>(new(2, 5, 1), 2, kernel: 3, stride: 2, padding: 1), Random(rng, 3, 10), rng, initDense: true));
        rows.AddRange(CheckLayer("MaxPool2d 2 on 2@4×5", new MaxPool2d<double>(new(2, 4, 5), 2), Random(rng, 3, 40), rng));
        rows.AddRange(CheckLayer("Dropout 0.5 (training mask)", new Dropout<double>(0.5, salt: 3), Random(rng, 4, 6), rng, context: new ForwardContext(1, 2, [5, 0, 9, 2])));
        rows.AddRange(CheckLayer("Softmax (row-wise VJP)", new Softmax<double>(), Random(rng, 4, 5, scale: 3), rng));
        var labelKinds = new (string Name, Func<SeededRandom, int, int, Matrix<double>> Make)[] { ("one-hot", OneHot), ("soft", SoftLabels) };
        foreach (var (name, make) in labelKinds)
        {
            rows.AddRange(CheckLoss($"CrossEntropy ({name} labels)", new CrossEntropy<double>(), Probabilities(rng, 6, 5), make(rng, 6, 5)));
            rows.AddRange(CheckLoss($"SoftmaxCrossEntropy ({name} labels)", new SoftmaxCrossEntropy<double>(), Random(rng, 6, 5, scale: 3), make(rng, 6, 5)));
            rows.AddRange(FusedVersusSeparate(name, Random(rng, 8, 10, scale: 4), make(rng, 8, 10)));
        }
        rows.Add(CheckModel("MLP 7-6-5-4, fused loss, all parameters", fused: true, rng));
        rows.Add(CheckModel("MLP 7-6-5-4, Softmax → CrossEntropy, all parameters", fused: false, rng));
        rows.Add(CheckModel("CNN conv→relu→pool→dropout→flatten→dense on 1@6×6, fused loss, all parameters", fused: true, rng,
            ModelDescription.Parse(36, "conv3k3p1,relu,maxpool2,dropout0.25,flatten,dense4").Build<double>(seed: 11), new ForwardContext(1, 7, [3, 1, 4, 1, 5])));
        rows.AddRange(ExtremeLogits());
        rows.Add(ClassicBug(rng));
        return rows;
    }

    private static IEnumerable<GradientCheckRow> CheckLayer(string name, ILayer<double> layer, Matrix<double> x, SeededRandom rng, bool initDense = false, ForwardContext? context = null)
    {
        if (initDense && layer is Dense<double> dense)
        {
            dense.InitializeHe(rng);
            foreach (ref var b in dense.Bias.Value.Values().AsSpan()) b = rng.NextGaussian();
        }
        if (initDense && layer is Conv2d<double> conv)
        {
            conv.InitializeHe(rng);
            foreach (ref var b in conv.Bias.Value.Values().AsSpan()) b = rng.NextGaussian();
        }
        var r = Random(rng, x.RowCount, layer.Forward(x, context).ColumnCount);
        // f = Σ R ⊙ layer(x): its gradient with respect to the output is R.
        double F() => layer.Forward(x, context).PointwiseMultiply(r).Enumerate().Sum();
        F();
        var dx = layer.Backward(r)!.Values().ToArray();
        var analyticParams = layer.Parameters.Select(p => p.Gradient.Values().ToArray()).ToArray();
        yield return Row($"{name}: d/dx", dx, GradientCheck.Numeric(F, x.Values()));
        for (int i = 0; i < layer.Parameters.Count; i++)
        {
            var p = layer.Parameters[i];
            yield return Row($"{name}: d/d{p.Name.Split('.').Last()}", analyticParams[i], GradientCheck.Numeric(F, p.Value.Values()));
        }
    }

    private static IEnumerable<GradientCheckRow> CheckLoss(string name, ILoss<double> loss, Matrix<double> input, Matrix<double> target)
    {
        double F() => loss.Forward(input, target);
        F();
        var (di, dt) = loss.Backward();
        var (dInput, dTarget) = (di.Values().ToArray(), dt.Values().ToArray());
        string inputName = loss is CrossEntropy<double> ? "p" : "z";
        yield return Row($"{name}: d/d{inputName}", dInput, GradientCheck.Numeric(F, input.Values()));
        yield return Row($"{name}: d/dt", dTarget, GradientCheck.Numeric(F, target.Values()));
    }

    private static IEnumerable<GradientCheckRow> FusedVersusSeparate(string labelKind, Matrix<double> logits, Matrix<double> labels)
    {
        var fused = new SoftmaxCrossEntropy<double>();
        double fusedLoss = fused.Forward(logits, labels);
        var (dzFused, dtFused) = fused.Backward();

        var softmax = new Softmax<double>();
        var crossEntropy = new CrossEntropy<double>();
        double separateLoss = crossEntropy.Forward(softmax.Forward(logits), labels);
        var (dp, dtSeparate) = crossEntropy.Backward();
        var dzSeparate = softmax.Backward(dp)!;

        string what = $"Fused vs Softmax → CrossEntropy ({labelKind} labels)";
        yield return new(what + ": loss", "max |difference|", Math.Abs(fusedLoss - separateLoss), AgreementLimit);
        yield return new(what + ": d/dz", "max |difference|", GradientCheck.MaxAbsoluteDifference(dzFused.Values(), dzSeparate.Values()), AgreementLimit);
        yield return new(what + ": d/dt", "max |difference|", GradientCheck.MaxAbsoluteDifference(dtFused.Values(), dtSeparate.Values()), AgreementLimit);
    }

    /// <summary>A whole model's parameter gradient (default: an MLP 7-6-5-4), in a training pass when <paramref name="context"/> is given.</summary>
    private static GradientCheckRow CheckModel(string name, bool fused, SeededRandom rng, Sequential<double>? model = null, ForwardContext? context = null)
    {
        model ??= Mlp.Create<double>(7, [6, 5], 4, seed: 11);
        foreach (var p in model.Parameters)
            if (p.Name.EndsWith("bias")) foreach (ref var b in p.Value.Values().AsSpan()) b = 0.1 * rng.NextGaussian();
        int inputs = model.Layers[0] switch { Dense<double> d => d.Inputs, Conv2d<double> c => c.Geometry.Input.Size, _ => throw new ArgumentException("the first layer must be dense or a convolution") };
        var x = Random(rng, 5, inputs);
        var t = SoftLabels(rng, 5, 4);
        ILoss<double> loss = fused ? new SoftmaxCrossEntropy<double>() : new CrossEntropy<double>();
        var softmax = new Softmax<double>();
        double F() => loss.Forward(fused ? model.Forward(x, context) : softmax.Forward(model.Forward(x, context)), t);
        F();
        var (dInput, _) = loss.Backward();
        model.Backward(fused ? dInput : softmax.Backward(dInput)!);
        var analytic = new double[model.ParameterCount];
        model.CopyGradientsTo(analytic);
        var numeric = model.Parameters.SelectMany(p => GradientCheck.Numeric(F, p.Value.Values())).ToArray();
        return Row(name, analytic, numeric);
    }

    private static IEnumerable<GradientCheckRow> ExtremeLogits()
    {
        var logits = Matrix<double>.Build.DenseOfArray(new double[,] { { 1000, -1000, 0 }, { -1000, 1000, 1000 }, { -1000, -1000, -1000 } });
        var labels = Matrix<double>.Build.DenseOfArray(new double[,] { { 0, 1, 0 }, { 1, 0, 0 }, { 0.5, 0.25, 0.25 } });
        var loss = new SoftmaxCrossEntropy<double>();
        double value = loss.Forward(logits, labels);
        var (dz, dt) = loss.Backward();
        bool finite = double.IsFinite(value) && dz.Enumerate().All(double.IsFinite) && dt.Enumerate().All(double.IsFinite);
        // By hand, loss = lse − z_label: row 0: 1000 − (−1000) = 2000; row 1: (1000 + log 2) − (−1000);
        // row 2 (uniform soft label on equal logits): log 3. The loss is their mean.
        double expected = (2000 + 2000 + Math.Log(2) + Math.Log(3)) / 3;
        yield return new("Fused loss, logits ±1000: non-finite values", "count", finite ? 0 : 1, 0);
        yield return new("Fused loss, logits ±1000: loss vs hand value", "relative error", Math.Abs(value - expected) / expected, RelativeLimit);
    }

    /// <summary>
    /// The seed problem's wrong backward, dx = g ⊙ s ⊙ (I − s) with an identity over the batch
    /// (square here so that it runs at all); the check must flag it.
    /// </summary>
    private static GradientCheckRow ClassicBug(SeededRandom rng)
    {
        var x = Random(rng, 5, 5, scale: 2);
        var r = Random(rng, 5, 5);
        var softmax = new Softmax<double>();
        double F() => softmax.Forward(x).PointwiseMultiply(r).Enumerate().Sum();
        var s = softmax.Forward(x);
        var wrong = r.PointwiseMultiply(s).PointwiseMultiply(Matrix<double>.Build.DenseIdentity(5) - s);
        var numeric = GradientCheck.Numeric(F, x.Values());
        return new("Wrong softmax backward g ⊙ s ⊙ (I_batch − s) (must fail)", "max relative error",
            GradientCheck.MaxRelativeError(wrong.Values(), numeric), RelativeLimit, ExpectFailure: true);
    }

    private static GradientCheckRow Row(string check, double[] analytic, double[] numeric) =>
        new(check, "max relative error", GradientCheck.MaxRelativeError(analytic, numeric), RelativeLimit);

    private static Matrix<double> Random(SeededRandom rng, int rows, int columns, double scale = 1) =>
        Matrix<double>.Build.Dense(rows, columns, (_, _) => scale * rng.NextGaussian());

    private static Matrix<double> AwayFromZero(Matrix<double> x) => x.Map(v => v >= 0 ? v + 0.1 : v - 0.1);

    private static Matrix<double> Probabilities(SeededRandom rng, int rows, int columns)
    {
        var softmax = new Softmax<double>();
        return softmax.Forward(Random(rng, rows, columns)).Clone();
    }

    private static Matrix<double> OneHot(SeededRandom rng, int rows, int columns)
    {
        var t = Matrix<double>.Build.Dense(rows, columns);
        for (int i = 0; i < rows; i++) t[i, rng.NextInt(columns)] = 1;
        return t;
    }

    private static Matrix<double> SoftLabels(SeededRandom rng, int rows, int columns)
    {
        var t = Matrix<double>.Build.Dense(rows, columns, (_, _) => rng.NextDouble() + 0.01);
        return t.NormalizeRows(1.0);
    }
}
