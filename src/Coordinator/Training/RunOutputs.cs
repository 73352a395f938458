using System.Text.Json;
using System.Text.Json.Serialization;
using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Models;
using Distributed.Shared.Numerics;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Training;

/// <summary>Writes a run's output folder: metrics.json and model.safetensors (and a cluster run's trace.json).</summary>
public static class RunOutputs
{
    public const string MetricsFile = "metrics.json";
    public const string ModelFile = "model.safetensors";
    public const string TraceFile = "trace.json";

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // A diverged evaluation (NaN test loss) is written as "NaN", not a serializer exception.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Creates the folder and proves it writable before any training time is spent.</summary>
    public static void EnsureWritable(string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
            string probe = Path.Combine(folder, $".write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputException(folder, e.Message);
        }
    }

    /// <param name="trace">A cluster run's last steps in the trace-event format (<see cref="Shared.Observation.StepTrace"/>), written as trace.json.</param>
    public static void Write(string folder, string mode, TrainingOptions options, MnistData data, Sequential<float> model, TrainingResult result, object? extra = null, string? trace = null)
    {
        if (trace is not null) WriteAtomically(Path.Combine(folder, TraceFile), path => File.WriteAllText(path, trace));
        var description = options.Model(data.Train.PixelsPerImage, data.Train.Classes);
        var metrics = new
        {
            Mode = mode,
            Model = description.ToString(),
            Layers = description.LayersText,
            ParameterCount = model.ParameterCount,
            Config = options,
            Data = new { data.Folder, TrainSamples = data.Train.Count, TestSamples = data.Test.Count, Sha256Verified = data.VerifiedFiles },
            Kernel = new { Simd = Gemm.UseSimd, Name = Gemm.KernelName, Threads = Gemm.MaxThreads },
            result.Epochs,
            FinalTestAccuracy = result.Epochs[^1].TestAccuracy,
            result.FinalWeightsSha256,
            result.TotalSeconds,
            // This process's peak resident memory (VmHWM on Linux): in the simulation, all nodes together.
            PeakResidentMb = Math.Round(System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
            Extra = extra,
        };
        WriteAtomically(Path.Combine(folder, MetricsFile), path => File.WriteAllText(path, JsonSerializer.Serialize(metrics, Json)));
        var meta = new Dictionary<string, string>(Distributed.Shared.Models.ModelFile.Metadata(description))
        {
            ["format"] = "pt",
            ["architecture"] = metrics.Model,
            ["final_weights_sha256"] = result.FinalWeightsSha256,
        };
        WriteAtomically(Path.Combine(folder, ModelFile), path => SafeTensorsFile.Write(path, SafeTensorsFile.FromModel(model), meta));
    }

    /// <summary>
    /// The run's pictures and report.html (after metrics.json and the model are safely written): a
    /// failure to render is reported, never fatal, and loses nothing.
    /// </summary>
    public static void WriteReport(string folder, string mode, TrainingOptions options, MnistData data, Sequential<float> model, TrainingResult result,
        TextWriter stdout, IReadOnlyList<Reporting.WorkerEpoch>? workers = null)
    {
        try
        {
            var test = Evaluator.Evaluate(model, data.Test);
            var files = Reporting.RunReport.Write(folder, mode, options, result, test, workers);
            stdout.WriteLine($"wrote {string.Join(", ", files.Select(Path.GetFileName))} in {folder}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or TypeInitializationException or DllNotFoundException or InvalidOperationException)
        {
            stdout.WriteLine($"warning: could not render the plots and report.html ({e.GetType().Name}: {e.Message}); metrics.json and the model are written");
        }
    }

    /// <summary>Writes beside, then renames: a crash never leaves a half-written file in place of a good one, and a failed write leaves no partial file.</summary>
    public static void WriteAtomically(string path, Action<string> write)
    {
        string temporary = path + ".tmp";
        try
        {
            write(temporary);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // On a full disk the partial file would keep the space the next attempt needs.
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
            }
            throw new OutputException(path, e.Message);
        }
    }
}

/// <summary>An output that cannot be written; the message names the path.</summary>
public sealed class OutputException(string path, string reason) : Exception($"{path}: cannot write output ({reason}).");
