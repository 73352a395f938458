namespace Distributed.Coordinator.Training;

/// <summary>
/// One run per output folder: a lock file held open exclusively (an OS lock) while the run lives.
/// Two runs into one --out would interleave checkpoints; the second is refused while the first runs.
/// The OS releases the lock when the process ends, however it ends, so a crashed run leaves no lock behind.
/// </summary>
public sealed class OutputLock : IDisposable
{
    public const string FileName = ".run.lock";

    private readonly FileStream _file;

    private OutputLock(FileStream file) => _file = file;

    /// <exception cref="OutputException">Another run holds the folder, or it cannot be written.</exception>
    public static OutputLock Acquire(string folder)
    {
        string path = Path.Combine(folder, FileName);
        try
        {
            Directory.CreateDirectory(folder);
            var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            file.SetLength(0);
            using (var writer = new StreamWriter(file, leaveOpen: true)) writer.Write($"{Environment.ProcessId} {DateTime.UtcNow:O}\n");
            file.Flush();
            return new OutputLock(file);
        }
        catch (IOException e) when (File.Exists(path))
        {
            throw new OutputException(folder, $"another run is writing to this folder (it holds {path}: {e.Message}); wait for it to end or choose another --out");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputException(folder, e.Message);
        }
    }

    public void Dispose() => _file.Dispose();
}
