/// Dial latency in milliseconds with the Go connector's bucket bounds
/// (0, 5, 25, 100, 250, 500, 1000, 2000, 5000, 30000 ms).
///
/// A plain value updated on the loop thread (one comparison loop per dial) and copied into the
/// published metrics snapshot.
public struct LatencyHistogram: Equatable, Sendable {
    /// Upper bounds in milliseconds; an observation lands in the first bucket whose bound it
    /// does not exceed, beyond the last one only `+Inf` counts it.
    public static let bounds: [Double] = [0, 5, 25, 100, 250, 500, 1000, 2000, 5000, 30000]

    /// Observations per bucket (not cumulative); the last slot is beyond every bound.
    public private(set) var bucketCounts = [UInt64](repeating: 0, count: bounds.count + 1)
    /// Sum of all observations in milliseconds.
    public private(set) var sum: Double = 0
    /// Number of observations.
    public private(set) var count: UInt64 = 0

    public init() {}

    /// Adds one observation.
    public mutating func record(_ latency: Duration) {
        let parts = latency.components
        let milliseconds = Double(parts.seconds) * 1000 + Double(parts.attoseconds) / 1e15
        var slot = Self.bounds.count
        for (index, bound) in Self.bounds.enumerated() where milliseconds <= bound {
            slot = index
            break
        }
        bucketCounts[slot] += 1
        sum += milliseconds
        count += 1
    }

    /// Cumulative counts per bound, as Prometheus' `le` buckets want them (without `+Inf`).
    public var cumulativeCounts: [UInt64] {
        var running: UInt64 = 0
        return Self.bounds.indices.map { index in
            running += bucketCounts[index]
            return running
        }
    }
}
