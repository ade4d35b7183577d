import Emulator
import Foundation

/// `alloydb-emulator`: parses the command line, runs the emulator until SIGTERM or SIGINT.
/// Exit status: 0 after a signal or --help, 1 when start-up fails, 2 for bad flags.

func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data("alloydb-emulator: \(message)\n".utf8))
    exit(status)
}

let command: EmulatorCommand
do {
    command = try EmulatorCommand.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail("\(error)\nRun 'alloydb-emulator --help' for usage.", status: 2)
}

switch command {
case .help:
    print(EmulatorCommand.usage)
    exit(0)
case .mintClientCertificate(let options):
    do {
        for path in try ClientCertificateMinter(options: options).run() { print(path) }
        exit(0)
    } catch {
        fail("\(error)", status: 1)
    }
case .serve(let configuration):
    // Block the signals before any thread starts so that every thread inherits the mask and
    // only sigwait below receives them.
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGTERM)
    sigaddset(&signals, SIGINT)
    pthread_sigmask(SIG_BLOCK, &signals, nil)
    signal(SIGPIPE, SIG_IGN)

    let emulator: Emulator
    do {
        emulator = try Emulator(configuration: configuration)
    } catch {
        fail("\(error)", status: 1)
    }
    print("alloydb-emulator: ready, Admin API at \(emulator.apiEndpoint)")
    for instance in emulator.instances {
        print(
            "alloydb-emulator: instance \(instance.spec.uri) at "
                + "\(instance.spec.ipAddress):\(configuration.instancePort) -> "
                + "\(configuration.backend(for: instance.spec))")
    }
    print("alloydb-emulator: state in \(emulator.stateDirectory.path)")
    fflush(nil)  // all streams: stdout may be a pipe the caller waits on

    var received: Int32 = 0
    sigwait(&signals, &received)
    emulator.stop()
    print("alloydb-emulator: stopped (signal \(received))")
    exit(0)
}
