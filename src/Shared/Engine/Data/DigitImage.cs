namespace Distributed.Shared.Data;

/// <summary>
/// Turns an ordinary grayscale picture of one digit into MNIST's convention: a light digit on a
/// dark background, its bounding box scaled (area averaging) so that the longer side is 20 pixels,
/// placed in a 28×28 image with its centre of mass at the centre — how LeCun et al. prepared MNIST.
/// </summary>
public static class DigitImage
{
    public const int Size = 28;
    public const int Box = 20;

    /// <param name="gray">Row-major luminance, 0 = black, 255 = white.</param>
    public static byte[] ToMnist(byte[] gray, int width, int height)
    {
        if (width <= 0 || height <= 0 || gray.Length != width * height)
            throw new ArgumentException($"{gray.Length} pixels do not make a {width}×{height} image.");
        var ink = Ink(gray, width, height);
        var (x0, y0, x1, y1) = BoundingBox(ink, width, height);
        if (x1 < x0) return new byte[Size * Size]; // blank picture: nothing to centre
        int w = x1 - x0 + 1, h = y1 - y0 + 1;
        double scale = (double)Box / Math.Max(w, h);
        int sw = Math.Max(1, (int)Math.Round(w * scale)), sh = Math.Max(1, (int)Math.Round(h * scale));
        var small = Resample(ink, width, x0, y0, w, h, sw, sh);

        // Centre of mass of the scaled digit goes to the centre of the 28×28 image.
        double mass = 0, cx = 0, cy = 0;
        for (int y = 0; y < sh; y++)
            for (int x = 0; x < sw; x++)
            {
                double v = small[y * sw + x];
                (mass, cx, cy) = (mass + v, cx + v * x, cy + v * y);
            }
        // MNIST's centres of mass sit at pixel index ≈ 14 (measured on its images), not 13.5.
        int ox = (int)Math.Round(Size / 2.0 - (mass > 0 ? cx / mass : sw / 2.0));
        int oy = (int)Math.Round(Size / 2.0 - (mass > 0 ? cy / mass : sh / 2.0));
        var result = new byte[Size * Size];
        for (int y = 0; y < sh; y++)
            for (int x = 0; x < sw; x++)
            {
                int tx = x + ox, ty = y + oy;
                if (tx is >= 0 and < Size && ty is >= 0 and < Size)
                    result[ty * Size + tx] = (byte)Math.Clamp(Math.Round(small[y * sw + x]), 0, 255);
            }
        return result;
    }

    // Ink intensity (digit bright, background 0): inverted when the picture's border is light, and
    // stretched so the background maps to 0 and the darkest/brightest stroke to 255.
    private static double[] Ink(byte[] gray, int width, int height)
    {
        double border = 0;
        int count = 0;
        for (int x = 0; x < width; x++) { border += gray[x] + gray[(height - 1) * width + x]; count += 2; }
        for (int y = 0; y < height; y++) { border += gray[y * width] + gray[y * width + width - 1]; count += 2; }
        bool invert = border / count > 127;
        var ink = gray.Select(g => invert ? 255.0 - g : g).ToArray();
        double background = invert ? 255 - border / count : border / count;
        double peak = ink.Max();
        double range = Math.Max(1, peak - background);
        for (int i = 0; i < ink.Length; i++) ink[i] = Math.Clamp((ink[i] - background) / range * 255, 0, 255);
        return ink;
    }

    private static (int X0, int Y0, int X1, int Y1) BoundingBox(double[] ink, int width, int height)
    {
        const double threshold = 255 * 0.05;
        int x0 = width, y0 = height, x1 = -1, y1 = -1;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                if (ink[y * width + x] > threshold)
                    (x0, y0, x1, y1) = (Math.Min(x0, x), Math.Min(y0, y), Math.Max(x1, x), Math.Max(y1, y));
        return (x0, y0, x1, y1);
    }

    // Area-averaging resample of the w×h box at (x0, y0) to sw×sh: each target pixel is the mean of
    // the source area it covers (fractional edges weighted), which keeps thin strokes when shrinking.
    private static double[] Resample(double[] ink, int width, int x0, int y0, int w, int h, int sw, int sh)
    {
        var result = new double[sw * sh];
        double fx = (double)w / sw, fy = (double)h / sh;
        for (int ty = 0; ty < sh; ty++)
            for (int tx = 0; tx < sw; tx++)
            {
                double sx0 = tx * fx, sx1 = sx0 + fx, sy0 = ty * fy, sy1 = sy0 + fy;
                double sum = 0, area = 0;
                for (int y = (int)sy0; y < Math.Min(h, (int)Math.Ceiling(sy1)); y++)
                {
                    double wy = Math.Min(sy1, y + 1) - Math.Max(sy0, y);
                    for (int x = (int)sx0; x < Math.Min(w, (int)Math.Ceiling(sx1)); x++)
                    {
                        double wx = Math.Min(sx1, x + 1) - Math.Max(sx0, x);
                        sum += wx * wy * ink[(y0 + y) * width + x0 + x];
                        area += wx * wy;
                    }
                }
                result[ty * sw + tx] = area > 0 ? sum / area : 0;
            }
        return result;
    }
}
