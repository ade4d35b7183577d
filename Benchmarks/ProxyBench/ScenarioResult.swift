/// A named measurement, its unit and which direction is better.
struct Metric: Hashable, Codable, Sendable {
    let name: String
    /// True when a larger value is better (throughput); false for costs.
    let higherIsBetter: Bool
    /// Whether the value is compared against the best peer.
    let compared: Bool

    static let throughput = Metric(name: "MB/s", higherIsBetter: true, compared: true)
    static let cpuPerGB = Metric(name: "CPU s/GB", higherIsBetter: false, compared: true)
    static let syscallsPerMiB = Metric(name: "syscalls/MiB", higherIsBetter: false, compared: true)
    static let readWritePerMiB = Metric(name: "syscr+w/MiB", higherIsBetter: false, compared: true)
    static let p50 = Metric(name: "p50 us", higherIsBetter: false, compared: true)
    static let p99 = Metric(name: "p99 us", higherIsBetter: false, compared: true)
    static let addedP50 = Metric(name: "added p50 us", higherIsBetter: false, compared: true)
    static let roundTrips = Metric(name: "trips", higherIsBetter: true, compared: false)
    static let connectionsPerSecond = Metric(name: "conn/s", higherIsBetter: true, compared: true)
    static let cpuPerConnection = Metric(name: "CPU ms/conn", higherIsBetter: false, compared: true)
    static let connections = Metric(name: "done", higherIsBetter: true, compared: false)
    static let tunnels = Metric(name: "tunnels", higherIsBetter: true, compared: false)
    static let rssPerTunnel = Metric(name: "RSS KiB/tunnel", higherIsBetter: false, compared: true)
    static let rssTotal = Metric(name: "RSS MiB", higherIsBetter: false, compared: false)
    static let descriptorsPerTunnel = Metric(name: "fds/tunnel", higherIsBetter: false, compared: false)

    /// The columns shown for each scenario, in order.
    static func columns(for scenario: ScenarioKind) -> [Metric] {
        switch scenario {
        case .upload1, .download1, .upload16, .download16: [throughput, cpuPerGB, syscallsPerMiB, readWritePerMiB]
        case .roundTrip: [p50, addedP50, p99, roundTrips]
        case .connect: [connectionsPerSecond, cpuPerConnection, connections]
        case .idle: [tunnels, rssPerTunnel, rssTotal, descriptorsPerTunnel]
        }
    }
}

/// What one scenario measured on one path.
struct ScenarioResult: Sendable {
    var scenario: ScenarioKind
    var path: PathKind
    var metrics: [Metric: Double] = [:]
    /// Whether received bytes matched what was expected; nil when nothing could be checked.
    var verified: Bool?
    /// Why the scenario did not complete (then `metrics` hold what was reached, if anything).
    var failure: String?

    init(scenario: ScenarioKind, path: PathKind, failure: String? = nil) {
        self.scenario = scenario
        self.path = path
        self.failure = failure
    }

    /// One line for progress output.
    var summary: String {
        let values = Metric.columns(for: scenario).compactMap { metric in
            metrics[metric].map { "\(metric.name) \(Format.measure($0))" }
        }
        var line = "\(scenario.rawValue): " + (values.isEmpty ? "-" : values.joined(separator: ", "))
        if verified == false { line += " [DATA MISMATCH]" }
        if let failure { line += " [\(failure)]" }
        return line
    }
}
