import EventLoop
import Foundation

/// Runs what the options ask for, prints the tables and writes the JSON report.
/// Main thread only.
struct BenchRunner {
    let options: BenchOptions

    func run() throws {
        if case .terminator(let directory) = options.command {
            try Terminator.serve(directory: directory)
            return
        }
        try ProcessResources.raiseDescriptorLimit()
        var report = BenchReport(mode: options.quick ? "quick" : "full", sizes: options.sizes)

        if options.command == .all || options.command == .reactor {
            Console.line("== Reactor micro-benchmark (this process, one thread)")
            var bench = ReactorBench()
            if options.quick {
                bench.eventTarget = 100_000
                bench.timerOperations = 50_000
            }
            let rows = try bench.run()
            Console.line(ReactorBench.table(rows))
            Console.line("")
            report.reactor = rows
        }
        if options.command == .all || options.command == .paths {
            let suite = try PathSuite(options: options)
            defer { suite.tearDown() }
            report.results = suite.run()
            report.notes = suite.notes
            report.derive()
            Console.line(report.scenarioTables())
        }
        if let path = options.jsonPath {
            try report.write(to: path)
            Console.line("proxy-bench: results written to \(path)")
        }
    }
}
