namespace Distributed.Shared.Protocol;

/// <summary>Marker for every message that crosses nodes; the binary <see cref="ProtocolSerializer"/> is bound to it.</summary>
public interface IClusterMessage;
