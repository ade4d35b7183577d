import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `proxy-bench`: the reactor micro-benchmark and the relay benchmark against peers.
/// Exit status: 0 on success, 1 when the run could not be set up, 2 for bad flags.

signal(SIGPIPE, SIG_IGN)
ChildRegistry.installSignalHandlers()

let options: BenchOptions
do {
    options = try BenchOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("proxy-bench: \(error)\n\(BenchOptions.usage)\n".utf8))
    exit(2)
}

do {
    try BenchRunner(options: options).run()
} catch {
    FileHandle.standardError.write(Data("proxy-bench: \(error)\n".utf8))
    exit(1)
}
