namespace Distributed.Coordinator; public static class Program { public static int Main() => 0; }
