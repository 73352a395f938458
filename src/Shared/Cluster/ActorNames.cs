namespace Distributed.Shared.Cluster;

/// <summary>
/// The names the nodes' actors are created under. Locally they are found through Akka.Hosting's
/// ActorRegistry; a remote node needs the name once, to find a coordinator it has never heard from
/// (a worker's first registration), and untrusted mode lets selections reach only these paths.
/// </summary>
public static class ActorNames
{
    public const string Coordinator = "coordinator";
    public const string Worker = "worker";
    /// <summary>A standby coordinator's actor (<c>coordinator --standby</c>): it takes snapshots from the active coordinator.</summary>
    public const string Standby = "standby";

    /// <summary>The actor's path under /user, as untrusted mode's trusted-selection-paths lists it.</summary>
    public static string UserPath(string name) => $"/user/{name}";
}
