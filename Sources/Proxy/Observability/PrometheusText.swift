/// Renders a `MetricsSnapshot` in the Prometheus text exposition format (version 0.0.4).
///
/// Names follow the Go connector's OpenCensus views where one exists
/// (`alloydbconn/dial_latency` -> `<ns>_alloydbconn_dial_latency`); the proxy's own figures use
/// `<ns>_alloydbproxy_*`. Pure; any thread.
public enum PrometheusText {
    /// The `Content-Type` of the output.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The exposition text.
    ///
    /// - Parameters:
    ///   - namespace: `--prometheus-namespace`; characters outside `[A-Za-z0-9_]` become `_`.
    ///   - openDescriptors: the process's open file descriptors, when known.
    public static func render(
        _ snapshot: MetricsSnapshot,
        namespace: String,
        openDescriptors: Int?
    ) -> String {
        var out = Writer(prefix: namespace.isEmpty ? "" : sanitized(namespace) + "_")
        let counters = snapshot.counters

        out.family("alloydbconn_open_connections", "gauge", "Open client connections per instance.")
        for instance in snapshot.instances {
            out.sample("alloydbconn_open_connections", instanceLabel(instance), Double(instance.openTunnels))
        }

        out.family("alloydbconn_dial_latency", "histogram",
                   "Milliseconds from accepting a client to relaying its bytes, successful dials.")
        let cumulative = counters.dialLatency.cumulativeCounts
        for (bound, count) in zip(LatencyHistogram.bounds, cumulative) {
            out.sample("alloydbconn_dial_latency_bucket", [("le", format(bound))], Double(count))
        }
        out.sample("alloydbconn_dial_latency_bucket", [("le", "+Inf")], Double(counters.dialLatency.count))
        out.sample("alloydbconn_dial_latency_sum", [], counters.dialLatency.sum)
        out.sample("alloydbconn_dial_latency_count", [], Double(counters.dialLatency.count))

        out.family("alloydbconn_dial_failure_count", "counter", "Dials that failed.")
        out.sample("alloydbconn_dial_failure_count", [], Double(counters.failedDials))

        out.family("alloydbconn_refresh_success_count", "counter",
                   "Connection info refreshes that succeeded, per instance.")
        for instance in snapshot.instances {
            out.sample("alloydbconn_refresh_success_count", instanceLabel(instance),
                       Double(instance.refreshSuccesses))
        }
        out.family("alloydbconn_refresh_failure_count", "counter",
                   "Connection info refreshes that failed, per instance and cause.")
        for instance in snapshot.instances {
            for (cause, count) in instance.refreshFailures.sorted(by: { $0.key < $1.key }) {
                out.sample("alloydbconn_refresh_failure_count",
                           instanceLabel(instance) + [("alloydb_error_code", cause)], Double(count))
            }
        }

        out.family("alloydbconn_bytes_sent", "counter", "Bytes sent to instances (plaintext).")
        out.sample("alloydbconn_bytes_sent", [], Double(snapshot.bytesToInstance))
        out.family("alloydbconn_bytes_received", "counter", "Bytes received from instances (plaintext).")
        out.sample("alloydbconn_bytes_received", [], Double(snapshot.bytesToClient))

        out.family("alloydbproxy_tunnels_accepted_total", "counter", "Client connections accepted.")
        out.sample("alloydbproxy_tunnels_accepted_total", [], Double(counters.accepted))
        out.family("alloydbproxy_tunnels_refused_total", "counter",
                   "Client connections refused at --max-connections.")
        out.sample("alloydbproxy_tunnels_refused_total", [], Double(counters.refused))
        out.family("alloydbproxy_tunnels_established_total", "counter", "Tunnels that reached relaying.")
        out.sample("alloydbproxy_tunnels_established_total", [], Double(counters.established))
        out.family("alloydbproxy_tunnels_failed_total", "counter", "Failed dials by the phase they failed in.")
        for phase in failurePhases {
            out.sample("alloydbproxy_tunnels_failed_total", [("phase", phase.rawValue)],
                       Double(counters.failed(in: phase)))
        }
        out.family("alloydbproxy_forced_refreshes_total", "counter",
                   "Refreshes forced by TCP or TLS failures of a dial.")
        out.sample("alloydbproxy_forced_refreshes_total", [], Double(counters.forcedRefreshes))

        out.family("alloydbproxy_certificate_expiry_timestamp_seconds", "gauge",
                   "Expiry of the current client certificate (Unix time), per instance.")
        for instance in snapshot.instances {
            guard let expiry = instance.certificateExpiry else { continue }
            out.sample("alloydbproxy_certificate_expiry_timestamp_seconds", instanceLabel(instance),
                       expiry.timeIntervalSince1970.rounded(.down))
        }

        out.family("alloydbproxy_loop_iterations_total", "counter", "Reactor turns (epoll_wait calls).")
        out.sample("alloydbproxy_loop_iterations_total", [], Double(snapshot.loopIterations))
        out.family("alloydbproxy_loop_events_total", "counter", "Readiness events the reactor received.")
        out.sample("alloydbproxy_loop_events_total", [], Double(snapshot.loopEvents))
        out.family("alloydbproxy_loop_stale_events_dropped_total", "counter",
                   "Events dropped because their registration had already ended.")
        out.sample("alloydbproxy_loop_stale_events_dropped_total", [], Double(snapshot.staleEventsDropped))
        if let openDescriptors {
            out.family("alloydbproxy_open_file_descriptors", "gauge", "Open file descriptors of the process.")
            out.sample("alloydbproxy_open_file_descriptors", [], Double(openDescriptors))
        }
        return out.text
    }

    /// The phases a dial can fail in, in order.
    static let failurePhases: [TunnelPhase] = [.accept, .connectionInfo, .connect, .handshake, .metadataExchange]

    private static func instanceLabel(_ instance: InstanceFigures) -> [(String, String)] {
        [("alloydb_instance", instance.uri)]
    }

    /// Metric-name characters only.
    static func sanitized(_ name: String) -> String {
        String(name.map { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" ? $0 : "_" })
    }

    /// Integers without a fraction, others in Swift's shortest round-trip form.
    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        return String(value)
    }

    /// Label values escape `\`, `"` and newlines.
    static func escaped(_ value: String) -> String {
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }

    private struct Writer {
        let prefix: String
        var text = ""

        mutating func family(_ name: String, _ type: String, _ help: String) {
            text += "# HELP \(prefix)\(name) \(help)\n# TYPE \(prefix)\(name) \(type)\n"
        }

        mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
            text += prefix + name
            if !labels.isEmpty {
                text += "{" + labels.map { "\($0.0)=\"\(PrometheusText.escaped($0.1))\"" }
                    .joined(separator: ",") + "}"
            }
            text += " " + PrometheusText.format(value) + "\n"
        }
    }
}
