import Connector
import Synchronization

/// Refresh outcomes per served instance, counted from `ConnectorEvent`s on the refresh thread
/// and read by the HTTP threads for `/metrics`.
///
/// Lock-free: the instance list and the cause list are fixed at creation, so every counter is
/// a preallocated atomic (relaxed: each count stands alone), boxed because `Atomic` cannot be
/// an array element. Failure causes are the bounded
/// `ConnectorError.errorCodes`, so the label set cannot grow with hostile API answers.
public final class RefreshCounters: Sendable {
    /// The distinct instance URIs, in argument order (the `alloydb_instance` labels).
    public let instances: [String]
    private let indexByInstance: [String: Int]
    private let successCells: [Cell]
    /// Row-major: `instance * causes.count + cause`.
    private let failureCells: [Cell]
    private let causeIndex: [String: Int]
    private static let causes = ConnectorError.errorCodes

    /// Counters for `instances` (full URIs); duplicates share one row.
    public init(instances: [String]) {
        var unique: [String] = []
        var index: [String: Int] = [:]
        for uri in instances where index[uri] == nil {
            index[uri] = unique.count
            unique.append(uri)
        }
        self.instances = unique
        indexByInstance = index
        successCells = unique.map { _ in Cell() }
        failureCells = (0..<(unique.count * Self.causes.count)).map { _ in Cell() }
        causeIndex = Dictionary(uniqueKeysWithValues: Self.causes.enumerated().map { ($1, $0) })
    }

    /// Counts one outcome; events of instances this proxy does not serve are ignored. Any
    /// thread (the refresh thread in practice); a few atomic adds.
    public func record(_ event: ConnectorEvent) {
        guard let row = indexByInstance[event.instance.description] else { return }
        switch event {
        case .refreshSucceeded:
            successCells[row].value.add(1, ordering: .relaxed)
        case .refreshFailed(_, let error, _):
            let cause = causeIndex[error.errorCode] ?? causeIndex["UNKNOWN"] ?? 0
            failureCells[row * Self.causes.count + cause].value.add(1, ordering: .relaxed)
        }
    }

    /// Successful refreshes of `uri` so far (0 for an instance not served).
    public func successes(of uri: String) -> Int {
        indexByInstance[uri].map { successCells[$0].value.load(ordering: .relaxed) } ?? 0
    }

    /// Failed refreshes of `uri` by cause, only causes seen at least once.
    public func failures(of uri: String) -> [String: Int] {
        guard let row = indexByInstance[uri] else { return [:] }
        var result: [String: Int] = [:]
        for (cause, column) in causeIndex {
            let count = failureCells[row * Self.causes.count + column].value.load(ordering: .relaxed)
            if count > 0 { result[cause] = count }
        }
        return result
    }

    /// One counter.
    private final class Cell: Sendable {
        let value = Atomic<Int>(0)
    }
}
