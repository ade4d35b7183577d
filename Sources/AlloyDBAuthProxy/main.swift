import Foundation
import Proxy

// Signals first: every thread started later (the refresh thread, resolver threads) inherits
// the blocked mask, so SIGINT and SIGTERM reach only the loop's signalfd.
ProxyMain.prepareProcess()

let code = ProxyMain.run(
    arguments: Array(CommandLine.arguments.dropFirst()),
    environment: ProcessInfo.processInfo.environment
)
exit(code)
