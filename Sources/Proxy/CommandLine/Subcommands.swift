import Foundation
import Glibc

/// The `wait` and `shutdown` subcommands.
///
/// * `wait [--max|-m D] [--http-address A] [--http-port P]`: GET `/startup` every second until
///   it answers 200 (exit 0); after `--max` (default 30s) exit 1.
/// * `shutdown [--admin-port P]`: POST `/quitquitquit` to 127.0.0.1:P; anything but 200 exits 1.
///
/// Flags also come from `ALLOYDB_PROXY_<FLAG>` like the main command's. Main thread; blocking.
enum Subcommands {
    static func wait(_ arguments: [String], environment: [String: String]) -> Int32 {
        let parsed: [String: String]
        do {
            parsed = try parse(arguments, environment: environment, command: "wait",
                               flags: ["max": "m", "http-address": nil, "http-port": nil])
        } catch {
            return fail("\(error)")
        }
        let maxText = parsed["max"] ?? "30s"
        guard let maximum = GoDuration.parse(maxText), maximum >= .zero else {
            return fail(ConfigError.invalidValue("--max", maxText, "not a duration such as 30s").description)
        }
        let address = parsed["http-address"].map { $0 == "localhost" ? "127.0.0.1" : $0 } ?? "127.0.0.1"
        guard let port = Int(parsed["http-port"] ?? "9090"), (1...65535).contains(port) else {
            return fail(ConfigError.invalidValue("--http-port", parsed["http-port"] ?? "", "not a port").description)
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: maximum)
        var lastProblem = "no answer"
        while true {
            switch LoopbackHTTP.request("GET", host: address, port: port, path: "/startup") {
            case .success(let response) where response.status == 200:
                return 0
            case .success(let response):
                lastProblem = "/startup answered \(response.status) \(response.body)"
            case .failure(let problem):
                lastProblem = problem.description
            }
            guard clock.now.advanced(by: .seconds(1)) <= deadline else { break }
            usleep(1_000_000)
        }
        return fail("the proxy did not become ready within \(GoDuration.format(maximum)) (\(lastProblem))")
    }

    static func shutdown(_ arguments: [String], environment: [String: String]) -> Int32 {
        let parsed: [String: String]
        do {
            parsed = try parse(arguments, environment: environment, command: "shutdown",
                               flags: ["admin-port": nil])
        } catch {
            return fail("\(error)")
        }
        guard let port = Int(parsed["admin-port"] ?? "9091"), (1...65535).contains(port) else {
            return fail(ConfigError.invalidValue("--admin-port", parsed["admin-port"] ?? "", "not a port").description)
        }
        switch LoopbackHTTP.request("POST", host: "127.0.0.1", port: port, path: "/quitquitquit") {
        case .success(let response) where response.status == 200:
            return 0
        case .success(let response):
            return fail("/quitquitquit answered \(response.status): \(response.body)")
        case .failure(let problem):
            return fail("could not reach the admin server on 127.0.0.1:\(port): \(problem)")
        }
    }

    private static func fail(_ message: String) -> Int32 {
        ProxyLogger.standardStreams("Error: \(message)\n", true)
        return 1
    }

    /// `--name value`, `--name=value`, `-x value`, `-x=value`; then the environment.
    static func parse(
        _ arguments: [String],
        environment: [String: String],
        command: String,
        flags: [String: Character?]
    ) throws -> [String: String] {
        var values: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            var name: String
            var inline: String?
            if argument.hasPrefix("--") {
                let parts = argument.dropFirst(2).split(separator: "=", maxSplits: 1)
                name = parts.first.map(String.init) ?? ""
                inline = parts.count == 2 ? String(parts[1]) : nil
            } else if argument.hasPrefix("-"), argument.count >= 2 {
                let letter = argument.dropFirst().first
                guard let match = flags.first(where: { $0.value == letter }) else {
                    throw ConfigError.unknownFlag("\(argument) for \(command)")
                }
                name = match.key
                let rest = argument.dropFirst(2)
                inline = rest.isEmpty ? nil : String(rest.hasPrefix("=") ? rest.dropFirst() : rest)
            } else {
                throw ConfigError(.invalidValue, "\(command) takes no arguments, got \(ConfigError.quoted(argument))")
            }
            guard flags.keys.contains(name) else { throw ConfigError.unknownFlag("--\(name) for \(command)") }
            if let inline {
                values[name] = inline
            } else {
                guard index < arguments.count else { throw ConfigError.missingValue("--\(name)") }
                values[name] = arguments[index]
                index += 1
            }
        }
        for name in flags.keys where values[name] == nil {
            values[name] = environment[CommandLineParser.environmentName(of: name)]
        }
        return values
    }
}
