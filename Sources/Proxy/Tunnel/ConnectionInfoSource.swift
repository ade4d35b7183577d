import Connector

/// Where tunnels get an instance's connection info: the connector in production, a fake in
/// tests.
///
/// Contract: `current(for:)` is called on the loop thread and must not lock or block (the
/// connector reads the handle's atomic snapshot). `requestInfo` may be called on the loop
/// thread and must return at once; `completion` may run on any thread — the tunnel re-posts
/// it to its loop.
public protocol ConnectionInfoSource: AnyObject, Sendable {
    /// The current snapshot, or nil before the first successful refresh. Loop thread only.
    func current(for handle: InstanceHandle) -> InstanceSnapshot?

    /// Asks for a snapshot, refreshing first when `forceRefresh` is set or none is usable.
    func requestInfo(
        for handle: InstanceHandle,
        forceRefresh: Bool,
        completion: @escaping @Sendable (Result<InstanceSnapshot, ConnectorError>) -> Void
    )
}
