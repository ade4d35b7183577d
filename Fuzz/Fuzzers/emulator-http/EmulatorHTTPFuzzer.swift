import Foundation
@testable import Emulator
import FuzzSupport
import TLS

/// The emulator's HTTP surface without sockets: the router with the Admin API, the token
/// endpoint and the fault switches, fed up to four requests per input against fresh state.
///
/// Input layout: requests separated by a line `===`; each is `METHOD TARGET`, header lines
/// `Name: value`, an empty line, then the body. In header values and bodies `$API_TOKEN`,
/// `$LOGIN_TOKEN`, `$REFRESH_TOKEN`, `$CLIENT_ID` and `$CLIENT_SECRET` become the values this
/// run issued, so inputs get past authentication. Properties: every status is a valid HTTP
/// status; every JSON body parses; a delay the fault switches accept can be slept.
@_cdecl("LLVMFuzzerTestOneInput")
public func emulatorHTTPTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let run = EmulatorRun()
    for request in EmulatorRequests.parse(FuzzInput(data, size).bytes, substitutions: run.secrets) {
        let response = run.router.handle(request)
        if EmulatorFixture.verbose {
            print(request.method, request.target, "->", response.status,
                  String(decoding: response.body.prefix(160), as: UTF8.self))
        }
        FuzzCheck.require((100...599).contains(response.status), "HTTP status \(response.status)")
        let type = response.headers.first { $0.name.lowercased() == "content-type" }?.value ?? ""
        if type.hasPrefix("application/json") {
            FuzzCheck.require(
                (try? JSONValue.parse(response.body)) != nil, "a JSON answer does not parse")
        }
        run.checkAndClearDelays()
    }
    return 0
}

/// Fresh per-input state around the process-wide expensive parts (keys and CAs).
final class EmulatorRun {
    let router = APIRouter()
    let faults = FaultSwitches(certificateLifetime: 3600)
    let secrets: [(String, String)]

    init() {
        let tokens = TokenStore()
        let api = tokens.issue(principal: "fuzz", scopes: [cloudPlatformScope]).token
        let login = tokens.issue(principal: "fuzz", scopes: [alloyDBLoginScope]).token
        let credentials = EmulatorFixture.credentials
        secrets = [
            ("$API_TOKEN", api), ("$LOGIN_TOKEN", login),
            ("$REFRESH_TOKEN", credentials.refreshToken), ("$CLIENT_ID", credentials.clientID),
            ("$CLIENT_SECRET", credentials.clientSecret),
        ]
        let events = EventLog()
        router.install(
            APIRouter.Routes(
                admin: AdminAPI(
                    instances: EmulatorFixture.instances, authorities: EmulatorFixture.authorities,
                    tokens: tokens, faults: faults, events: events),
                token: TokenEndpoint(credentials: credentials, tokens: tokens, events: events),
                faults: faults,
                events: events,
                // Rotation costs two key generations; the command's parsing is what is fuzzed.
                commands: FaultsAPI.Commands(rotate: {}, dropAll: { _ in 0 })))
    }

    /// The router sleeps `delay * 1000` microseconds in a `UInt32`; the switches must never
    /// hold more. Then the delays are cleared so that the next request does not sleep.
    func checkAndClearDelays() {
        let state = faults.snapshot
        for delay in [state.apiDelayMilliseconds, state.tokenDelayMilliseconds,
                      state.handshakeDelayMilliseconds]
        {
            FuzzCheck.require(
                delay >= 0 && delay <= Int(UInt32.max / 1000), "delay of \(delay) ms accepted")
        }
        faults.update {
            $0.apiDelayMilliseconds = 0
            $0.tokenDelayMilliseconds = 0
        }
    }
}

/// The instance, cluster CA and credentials every run shares (made once: RSA key generation).
enum EmulatorFixture {
    /// `FUZZ_VERBOSE=1` prints each request's status and answer (to check that seeds get past
    /// authentication and reach the handlers).
    static let verbose = ProcessInfo.processInfo.environment["FUZZ_VERBOSE"] != nil

    static let uri = "projects/fuzz-project/locations/r/clusters/c/instances/i"

    // Cannot fail: a literal valid URI and IP literal.
    static let spec = try! InstanceSpec(
        uri: uri, ipAddress: "127.0.0.1", publicIPAddress: "127.0.0.2", pscDNSName: "i.psc.example")

    static let instances = [AdminAPI.Instance(spec: spec, uid: "0123456789abcdef")]

    // Cannot fail except when OpenSSL cannot generate keys, which ends the run anyway.
    static let authorities = [spec.clusterName: try! ClusterAuthority(clusterName: spec.clusterName)]

    // Same as above.
    static let credentials = try! Credentials.generate(
        projectID: "fuzz-project", tokenURI: "http://127.0.0.1:1/token")
}

/// Splits an input into requests as described on the harness.
enum EmulatorRequests {
    static let maximumPerInput = 4

    static func parse(_ bytes: [UInt8], substitutions: [(String, String)]) -> [HTTPRequest] {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.components(separatedBy: "\n===\n").prefix(maximumPerInput).map { chunk in
            request(chunk, substitutions)
        }
    }

    private static func request(_ chunk: String, _ substitutions: [(String, String)]) -> HTTPRequest {
        let (head, body) = split(chunk, at: "\n\n")
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = lines.isEmpty ? "" : lines.removeFirst()
        let (method, target) = split(start, at: " ")
        let headers = lines.map { line -> (name: String, value: String) in
            let (name, value) = split(line, at: ":")
            return (name, substitute(value.trimmingCharacters(in: .whitespaces), substitutions))
        }
        return HTTPRequest(
            method: method, target: target, headers: headers,
            body: Array(substitute(body, substitutions).utf8))
    }

    private static func split(_ text: String, at separator: String) -> (String, String) {
        guard let range = text.range(of: separator) else { return (text, "") }
        return (String(text[..<range.lowerBound]), String(text[range.upperBound...]))
    }

    private static func substitute(_ text: String, _ substitutions: [(String, String)]) -> String {
        guard text.contains("$") else { return text }
        return substitutions.reduce(text) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }
}

@_cdecl("fuzz_emulator_http_main")
public func emulatorHTTPMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, emulatorHTTPTestOneInput)
}
