import Foundation
import Synchronization

/// The proxy's per-instance handle to the current `InstanceSnapshot`, readable without locks.
///
/// Publication protocol:
/// - `storage` holds a retained raw pointer (`Unmanaged.passRetained`) to the current snapshot,
///   or nil before the first successful refresh.
/// - Only the refresh thread writes: `publish` swaps in a new retained pointer and hands the OLD
///   snapshot (with the +1 it owned) to `retire`.
/// - The owner's `retire` must deliver the old snapshot to the loop thread, and only the loop
///   thread drops that last reference (so the old `SSL_CTX` is freed on the loop).
/// - Because of that, the loop thread may `load` the pointer and `takeUnretainedValue()`: the
///   object cannot be freed between the load and the retain, since the only thread that could
///   free it is the one reading. `current` is therefore safe on the loop thread and on the
///   refresh thread; other threads must not read it.
/// - deinit releases whatever is still stored.
public final class InstanceHandle: Sendable, Hashable, CustomStringConvertible {
    /// The instance this handle refreshes.
    public let instance: InstanceURI
    /// Which address to dial; a refresh whose answer lacks it fails with a config error.
    public let ipType: IPType
    /// Send AUTO_IAM instead of DB_NATIVE in the metadata exchange.
    public let autoIAMAuthN: Bool
    /// Receives replaced snapshots on the refresh thread; see the type's protocol notes.
    private let retire: @Sendable (InstanceSnapshot) -> Void
    /// The bit pattern of the retained current snapshot pointer, 0 for none (raw pointers are
    /// not Sendable, their bit patterns are). Written by the refresh thread only.
    private let storage = Atomic<UInt>(0)

    /// Creates a handle with no snapshot yet. `retire` receives every replaced snapshot; the
    /// default drops it on the refresh thread (fine when no loop is involved, e.g. in tests).
    public init(
        instance: InstanceURI,
        ipType: IPType = .private,
        autoIAMAuthN: Bool = false,
        retire: @escaping @Sendable (InstanceSnapshot) -> Void = { _ in }
    ) {
        self.instance = instance
        self.ipType = ipType
        self.autoIAMAuthN = autoIAMAuthN
        self.retire = retire
    }

    deinit {
        if let pointer = UnsafeRawPointer(bitPattern: storage.load(ordering: .acquiring)) {
            Unmanaged<InstanceSnapshot>.fromOpaque(pointer).release()
        }
    }

    /// The current snapshot, or nil before the first successful refresh. Lock-free: one atomic
    /// load and one retain. Loop thread or refresh thread only (see the protocol above).
    public var current: InstanceSnapshot? {
        guard let pointer = UnsafeRawPointer(bitPattern: storage.load(ordering: .acquiring)) else { return nil }
        return Unmanaged<InstanceSnapshot>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Installs `snapshot` and retires the previous one. Refresh thread only.
    func publish(_ snapshot: InstanceSnapshot) {
        precondition(snapshot.instance == instance, "snapshot for \(snapshot.instance) published to \(instance)")
        let new = UInt(bitPattern: Unmanaged.passRetained(snapshot).toOpaque())
        let previous = storage.exchange(new, ordering: .acquiringAndReleasing)
        guard let old = UnsafeRawPointer(bitPattern: previous) else { return }
        retire(Unmanaged<InstanceSnapshot>.fromOpaque(old).takeRetainedValue())
    }

    public static func == (lhs: InstanceHandle, rhs: InstanceHandle) -> Bool { lhs === rhs }

    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    public var description: String { "InstanceHandle(\(instance.shortName), \(ipType.rawValue))" }
}
