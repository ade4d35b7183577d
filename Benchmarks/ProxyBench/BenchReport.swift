import Foundation

/// Everything one run measured, with the ratio of each path to the best peer of the same run;
/// rendered as tables and as JSON.
struct BenchReport {
    var mode: String
    var sizes: BenchOptions.Sizes
    var reactor: [ReactorBench.Row] = []
    var results: [ScenarioResult] = []
    var notes: [String] = []

    init(mode: String, sizes: BenchOptions.Sizes) {
        self.mode = mode
        self.sizes = sizes
    }

    /// Fills in derived metrics that need another path of the same run (added latency over
    /// direct).
    mutating func derive() {
        let direct = results.first { $0.path == .direct && $0.scenario == .roundTrip }?.metrics[Metric.p50]
        guard let direct else { return }
        for index in results.indices where results[index].scenario == .roundTrip {
            if let p50 = results[index].metrics[Metric.p50] {
                results[index].metrics[Metric.addedP50] = max(p50 - direct, 0)
            }
        }
    }

    /// The best peer value of `metric` in `scenario`, and which peer it was.
    func bestPeer(_ metric: Metric, _ scenario: ScenarioKind) -> (PathKind, Double)? {
        let candidates = results.filter { $0.scenario == scenario && $0.path.isPeer && $0.failure == nil }
            .compactMap { result in result.metrics[metric].map { (result.path, $0) } }
            .filter { $0.1 > 0 }
        return metric.higherIsBetter ? candidates.max { $0.1 < $1.1 } : candidates.min { $0.1 < $1.1 }
    }

    /// value / best peer's value, or nil when there is no peer to compare with.
    func ratio(_ result: ScenarioResult, _ metric: Metric) -> Double? {
        guard metric.compared, let value = result.metrics[metric],
              let (_, best) = bestPeer(metric, result.scenario) else { return nil }
        return value / best
    }

    /// One table per scenario: every path's values, each followed by its ratio to the best
    /// peer ("1.00x" is the best peer itself).
    func scenarioTables() -> String {
        var out: [String] = []
        for scenario in ScenarioKind.allCases {
            let rows = results.filter { $0.scenario == scenario }
            guard !rows.isEmpty else { continue }
            let columns = Metric.columns(for: scenario)
            out.append("== \(Self.title(scenario))")
            var table = TextTable(headers: ["path"] + columns.map(\.name) + ["check", "note"])
            for row in rows {
                var cells = [row.path.rawValue]
                for metric in columns {
                    guard let value = row.metrics[metric] else { cells.append("-"); continue }
                    var cell = Format.measure(value)
                    if let ratio = ratio(row, metric) { cell += " (\(Format.decimal(ratio, 2))x)" }
                    cells.append(cell)
                }
                cells.append(row.verified.map { $0 ? "ok" : "MISMATCH" } ?? "-")
                cells.append(row.failure.map { String($0.prefix(90)) } ?? "")
                table.add(cells)
            }
            out.append(table.render())
            let best = columns.filter(\.compared).compactMap { metric in
                bestPeer(metric, scenario).map { "\(metric.name): \($0.0.rawValue)" }
            }
            if !best.isEmpty { out.append("best peer per column: " + best.joined(separator: ", ")) }
            out.append("")
        }
        if !notes.isEmpty {
            out.append("Notes:")
            out += notes.map { "- " + $0 }
        }
        return out.joined(separator: "\n")
    }

    static func title(_ scenario: ScenarioKind) -> String {
        switch scenario {
        case .upload1: "Bulk upload, 1 tunnel (client -> sink)"
        case .download1: "Bulk download, 1 tunnel (source -> client, pattern checked)"
        case .upload16: "Bulk upload, 16 tunnels at once"
        case .download16: "Bulk download, 16 tunnels at once (pattern checked)"
        case .roundTrip: "64-byte round trip through echo (microseconds)"
        case .connect: "New connections, 16 at a time (each: connect, 64-byte round trip, close)"
        case .idle: "Idle tunnels held open (relay RSS growth per tunnel)"
        }
    }

    // MARK: JSON

    private struct JSONMetric: Encodable {
        var value: Double
        var ratioToBestPeer: Double?
        var bestPeer: String?
    }

    private struct JSONResult: Encodable {
        var scenario: String
        var path: String
        var metrics: [String: JSONMetric]
        var verified: Bool?
        var failure: String?
    }

    private struct JSONReport: Encodable {
        var tool = "proxy-bench"
        var mode: String
        var date: String
        var host: String
        var sizes: BenchOptions.Sizes
        var reactor: [ReactorBench.Row]
        var results: [JSONResult]
        var notes: [String]
    }

    /// Writes the report as pretty-printed JSON to `path`.
    func write(to path: String) throws {
        let results = self.results.map { result in
            var metrics: [String: JSONMetric] = [:]
            for (metric, value) in result.metrics {
                let best = metric.compared ? bestPeer(metric, result.scenario) : nil
                metrics[metric.name] = JSONMetric(value: value, ratioToBestPeer: ratio(result, metric),
                                                  bestPeer: best?.0.rawValue)
            }
            return JSONResult(scenario: result.scenario.rawValue, path: result.path.rawValue,
                              metrics: metrics, verified: result.verified, failure: result.failure)
        }
        let report = JSONReport(mode: mode, date: ISO8601DateFormatter().string(from: Date()),
                                host: ProcessInfo.processInfo.hostName, sizes: sizes, reactor: reactor,
                                results: results, notes: notes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: URL(fileURLWithPath: path))
    }
}
