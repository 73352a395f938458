using Distributed.Shared.Data;

namespace Distributed.Tests.Data;

public class MnistLoaderSpecs
{
    public static string BundledData => RepositoryRoot.BundledData;

    [Fact]
    public void The_bundled_MNIST_should_load_and_verify_against_its_checksums()
    {
        var data = MnistLoader.Load(BundledData);
        Assert.Equal(60000, data.Train.Count);
        Assert.Equal(10000, data.Test.Count);
        Assert.Equal((28, 28), (data.Train.Rows, data.Train.Columns));
        Assert.Equal(4, data.VerifiedFiles.Count);
        // Well-known first labels of MNIST: 5 in training, 7 in test.
        Assert.Equal(5, data.Train.Labels[0]);
        Assert.Equal(7, data.Test.Labels[0]);
        Assert.Equal(Enumerable.Range(0, 10), data.Train.Labels.Distinct().Order().Select(l => (int)l));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Raw_and_gzipped_files_should_load_the_same(bool gzip)
    {
        using var files = new IdxFiles();
        files.WriteValidSet(gzip);
        var data = MnistLoader.Load(files.Folder, trainLimit: 3);
        Assert.Equal(3, data.Train.Count);
        Assert.Equal(3, data.Test.Count);
        Assert.Equal(new byte[] { 1, 2, 3 }, data.Train.Labels);
        Assert.Equal(IdxFiles.Images(4)[16..(16 + 784)], data.Train.Image(0).ToArray());
        Assert.Empty(data.VerifiedFiles);
    }

    [Fact]
    public void A_missing_file_should_be_named()
    {
        using var files = new IdxFiles();
        files.WriteValidSet();
        File.Delete(Path.Combine(files.Folder, "t10k-labels-idx1-ubyte"));
        var ex = Assert.Throws<DataFormatException>(() => MnistLoader.Load(files.Folder));
        Assert.Contains("t10k-labels-idx1-ubyte", ex.Message);
        Assert.Contains("not found", ex.Message);
    }

    [Fact]
    public void A_missing_folder_should_be_named()
    {
        var ex = Assert.Throws<DataFormatException>(() => MnistLoader.Load("/no/such/folder"));
        Assert.Contains("/no/such/folder", ex.Message);
    }

    [Fact]
    public void Wrong_magic_should_say_what_was_expected()
    {
        using var files = new IdxFiles();
        string path = files.Write("x", IdxFiles.Labels(1, 2));
        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));
        Assert.Contains("magic number is 2049", ex.Message);
        Assert.Contains("expected 2051", ex.Message);
        Assert.Equal(path, ex.Path);
    }

    [Fact]
    public void A_truncated_file_should_be_reported_with_sizes()
    {
        using var files = new IdxFiles();
        string path = files.Write("x", IdxFiles.Images(2)[..^10]);
        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));
        Assert.Contains("truncated", ex.Message);
        Assert.Contains("1568", ex.Message);
    }

    [Fact]
    public void Trailing_bytes_should_be_reported()
    {
        using var files = new IdxFiles();
        string path = files.Write("x", [.. IdxFiles.Labels(1, 2), 7, 7]);
        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(path));
        Assert.Contains("2 unexpected bytes", ex.Message);
    }

    [Fact]
    public void Corrupt_gzip_should_be_reported_as_such()
    {
        using var files = new IdxFiles();
        string path = Path.Combine(files.Folder, "x.gz");
        File.WriteAllBytes(path, [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(path));
        Assert.Contains("corrupt gzip", ex.Message);
    }

    [Fact]
    public void Labels_outside_0_to_9_should_be_rejected_with_their_position()
    {
        using var files = new IdxFiles();
        string path = files.Write("x", IdxFiles.Labels(1, 12, 3));
        var ex = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(path));
        Assert.Contains("label 1 is 12", ex.Message);
    }

    [Fact]
    public void Image_and_label_counts_should_agree()
    {
        using var files = new IdxFiles();
        files.WriteValidSet();
        files.Write("train-labels-idx1-ubyte", IdxFiles.Labels(1, 2, 3));
        var ex = Assert.Throws<DataFormatException>(() => MnistLoader.Load(files.Folder));
        Assert.Contains("3 labels, but train-images-idx3-ubyte has 4 images", ex.Message);
    }

    [Fact]
    public void Test_images_of_another_size_should_be_rejected()
    {
        using var files = new IdxFiles();
        files.WriteValidSet();
        files.Write("t10k-images-idx3-ubyte", IdxFiles.Images(3, 20, 20));
        var ex = Assert.Throws<DataFormatException>(() => MnistLoader.Load(files.Folder));
        Assert.Contains("20×20", ex.Message);
    }

    [Fact]
    public void A_checksum_mismatch_should_name_the_file_and_both_hashes()
    {
        using var files = new IdxFiles();
        files.WriteValidSet();
        string good = Checksums.Sha256Hex(Path.Combine(files.Folder, "train-images-idx3-ubyte"));
        File.WriteAllText(Path.Combine(files.Folder, "SHA256SUMS"),
            $"{good}  train-images-idx3-ubyte\n{new string('0', 64)}  t10k-labels-idx1-ubyte\n");
        var ex = Assert.Throws<DataFormatException>(() => MnistLoader.Load(files.Folder));
        Assert.Contains("t10k-labels-idx1-ubyte", ex.Path);
        Assert.Contains(new string('0', 64), ex.Message);
    }

    [Fact]
    public void Listed_files_that_match_should_be_reported_as_verified()
    {
        using var files = new IdxFiles();
        files.WriteValidSet();
        string good = Checksums.Sha256Hex(Path.Combine(files.Folder, "train-images-idx3-ubyte"));
        File.WriteAllText(Path.Combine(files.Folder, "SHA256SUMS"), $"{good} *train-images-idx3-ubyte\n");
        Assert.Equal(["train-images-idx3-ubyte"], MnistLoader.Load(files.Folder).VerifiedFiles);
    }

    [Fact]
    public void Batches_should_scale_pixels_and_one_hot_labels()
    {
        using var files = new IdxFiles();
        files.WriteValidSet();
        var data = MnistLoader.Load(files.Folder);
        var (x, t) = new BatchBuilder().Build(data.Train, [3, 0]);
        Assert.Equal((2, 784), (x.RowCount, x.ColumnCount));
        Assert.Equal(data.Train.Image(3)[5] / 255f, x[0, 5]);
        Assert.Equal(data.Train.Image(0)[783] / 255f, x[1, 783]);
        Assert.Equal(1f, t[0, 9]);
        Assert.Equal(1f, t[1, 1]);
        Assert.Equal(2f, t.Enumerate().Sum());
    }
}
