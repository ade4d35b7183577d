import FuzzSupport
import Proxy

/// `CommandLineParser.parse` on arbitrary arguments and `ALLOYDB_PROXY_*` environment
/// variables, then the listener plan built from the result.
///
/// Input layout: arguments separated by NUL bytes; after the first 0x01 byte, environment
/// entries `NAME=VALUE` separated by NUL bytes. Inputs naming `config-file` are skipped: that
/// flag reads a file (config files have fuzzers of their own). Properties: the plan has one
/// endpoint per instance, every TCP port is valid; an error is one printable line.
@_cdecl("LLVMFuzzerTestOneInput")
public func commandLineTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let (arguments, environment) = CommandLineInput.split(FuzzInput(data, size).bytes)
    guard !(arguments + environment.keys).contains(where: { $0.lowercased().contains("config") })
    else { return 0 }
    do {
        let options = try CommandLineParser.parse(arguments, environment: environment)
        let endpoints = try ListenerPlan.endpoints(for: options)
        FuzzCheck.require(endpoints.count == options.instances.count, "one endpoint per instance")
        for endpoint in endpoints {
            if case .tcp(_, let port) = endpoint {
                FuzzCheck.require((0...65535).contains(port), "TCP port \(port) out of range")
            }
        }
        for instance in options.instances {
            _ = (options.autoIAMAuthN(for: instance), options.ipType(for: instance))
        }
    } catch let error as ConfigError {
        FuzzCheck.requirePrintable(error.description, "error text")
    } catch {
        FuzzCheck.require(false, "untyped error \(error)")
    }
    return 0
}

enum CommandLineInput {
    /// Splits an input into arguments and environment as described above.
    static func split(_ bytes: [UInt8]) -> (arguments: [String], environment: [String: String]) {
        let halves = bytes.split(separator: 1, maxSplits: 1, omittingEmptySubsequences: false)
        let arguments = halves[0].isEmpty
            ? [] : halves[0].split(separator: 0, omittingEmptySubsequences: false).map(text)
        var environment: [String: String] = [:]
        if halves.count == 2 {
            for entry in halves[1].split(separator: 0) {
                let parts = entry.split(separator: UInt8(ascii: "="), maxSplits: 1,
                                        omittingEmptySubsequences: false)
                environment[text(parts[0])] = parts.count == 2 ? text(parts[1]) : ""
            }
        }
        return (arguments, environment)
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}

@_cdecl("fuzz_command_line_main")
public func commandLineMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, commandLineTestOneInput)
}
