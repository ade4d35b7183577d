import Foundation
import Synchronization
import TLS

/// A running local AlloyDB: the Admin API and token endpoint over HTTP, one cluster CA per
/// cluster, one mutual-TLS endpoint per instance, the state directory and the event log.
///
/// `init` does all the work and returns once everything listens and `emulator.json` is
/// written; `stop()` closes everything. Thread-safe.
public final class Emulator: Sendable {
    public let configuration: EmulatorConfiguration
    /// `http://ADDRESS:PORT`, or `https://` with `apiTLS`.
    public let apiEndpoint: String
    /// With `apiTLS`: the CA that signed the API's certificate (written to `api-ca.crt`).
    public let apiCA: Certificate?
    /// `<apiEndpoint>/token`.
    public let tokenURI: String
    public let credentials: Credentials
    public let tokens: TokenStore
    public let faults: FaultSwitches
    public let events: EventLog
    public let stateDirectory: StateDirectory
    /// Cluster name → its CA hierarchy.
    public let authorities: [String: ClusterAuthority]
    /// The instances with their generated UIDs.
    public let instances: [AdminAPI.Instance]

    private let http: HTTPServer
    private let endpoints: InstanceEndpoints

    /// Starts everything described by `configuration`. Throws `EmulatorError` naming what
    /// could not be created or bound; anything already started is stopped again.
    public init(
        configuration: EmulatorConfiguration,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        self.configuration = configuration
        stateDirectory = try StateDirectory(path: configuration.stateDirectory)
        events = try EventLog(path: stateDirectory.file("events.jsonl"))
        tokens = TokenStore(clock: clock)
        faults = FaultSwitches(certificateLifetime: configuration.certificateLifetime)

        let router = APIRouter()
        let identity: HTTPServer.TLSIdentity?
        (apiCA, identity) = configuration.apiTLS
            ? try Emulator.makeAPIIdentity(address: configuration.apiAddress, now: clock()) : (nil, nil)
        http = try HTTPServer(
            address: configuration.apiAddress, port: configuration.apiPort, tls: identity,
            handler: { router.handle($0) })
        let scheme = configuration.apiTLS ? "https" : "http"
        apiEndpoint = "\(scheme)://\(configuration.apiAddress):\(http.port)"
        tokenURI = apiEndpoint + "/token"

        do {
            let project = configuration.instances.first?.project ?? "emulator-project"
            credentials = try Credentials.generate(projectID: project, tokenURI: tokenURI)
            authorities = try Emulator.makeAuthorities(configuration.instances, now: clock())
            instances = configuration.instances.map {
                AdminAPI.Instance(spec: $0, uid: randomHex(16))
            }
        } catch {
            http.stop()
            throw Emulator.wrap(error)
        }

        do {
            endpoints = try InstanceEndpoints(
                instances: instances, configuration: configuration, authorities: authorities,
                tokens: tokens, faults: faults, events: events)
        } catch {
            http.stop()
            throw Emulator.wrap(error)
        }

        let authorityList = Array(authorities.values)
        let endpoints = self.endpoints
        let commands = FaultsAPI.Commands(
            rotate: { for authority in authorityList { try authority.rotate(now: clock()) } },
            dropAll: { endpoints.dropAll(mode: $0) })
        router.install(
            APIRouter.Routes(
                admin: AdminAPI(
                    instances: instances, authorities: authorities, tokens: tokens,
                    faults: faults, events: events, clock: clock),
                token: TokenEndpoint(
                    credentials: credentials, tokens: tokens, events: events, clock: clock),
                faults: faults,
                events: events,
                commands: commands
            ))
        do {
            try FaultsAPI(faults: faults, commands: commands).apply(configuration.initialFaults)
            try publishState()
        } catch {
            stop()
            throw Emulator.wrap(error)
        }
    }

    /// A fresh API CA and a server certificate for `address` signed by it.
    private static func makeAPIIdentity(address: String, now: Date) throws
        -> (Certificate, HTTPServer.TLSIdentity)
    {
        guard HTTPServer.supportsTLS else {
            throw EmulatorError(.httpServer, "--api-tls: this libmicrohttpd was built without TLS")
        }
        let authority = try CertificateAuthority.create(
            commonName: "alloydb-emulator API CA", notBefore: now.addingTimeInterval(-60))
        let key = try PrivateKey.generateRSA()
        let leaf = try authority.issue(
            publicKey: key.publicKey, commonName: address, ipAddresses: [address],
            lifetime: 365 * 86_400, notBefore: now.addingTimeInterval(-60), purpose: .server)
        return (authority.certificate, .init(certificateChainPEM: leaf.pem, keyPEM: key.pem()))
    }

    private static func makeAuthorities(_ specs: [InstanceSpec], now: Date) throws
        -> [String: ClusterAuthority]
    {
        var authorities: [String: ClusterAuthority] = [:]
        for spec in specs where authorities[spec.clusterName] == nil {
            authorities[spec.clusterName] = try ClusterAuthority(clusterName: spec.clusterName, now: now)
        }
        return authorities
    }

    private static func wrap(_ error: Error) -> EmulatorError {
        (error as? EmulatorError) ?? EmulatorError(.crypto, "emulator start-up failed: \(error)")
    }

    /// Writes the credential files, then `emulator.json` last as the readiness signal.
    private func publishState() throws {
        try stateDirectory.write("service-account.json", json: credentials.serviceAccountJSON)
        try stateDirectory.write("authorized-user.json", json: credentials.authorizedUserJSON)
        if let apiCA { try stateDirectory.write("api-ca.crt", Array(apiCA.pem.utf8)) }
        try stateDirectory.write("emulator.json", json: readinessDocument)
    }

    /// The `emulator.json` document.
    public var readinessDocument: JSONValue {
        let instanceList: [JSONValue] = instances.map { instance in
            var members: [(String, JSONValue)] = [
                ("uri", .string(instance.spec.uri)),
                ("ipAddress", .string(instance.spec.ipAddress)),
                ("port", .number(Double(configuration.instancePort))),
            ]
            if let publicIP = instance.spec.publicIPAddress {
                members.append(("publicIpAddress", .string(publicIP)))
            }
            if let psc = instance.spec.pscDNSName { members.append(("pscDnsName", .string(psc))) }
            members.append(("backend", .string(configuration.backend(for: instance.spec).description)))
            return .object(members)
        }
        return .object([
            ("apiEndpoint", .string(apiEndpoint)),
            ("tokenURI", .string(tokenURI)),
            ("stateDir", .string(stateDirectory.path)),
            ("serviceAccountFile", .string(stateDirectory.file("service-account.json"))),
            ("authorizedUserFile", .string(stateDirectory.file("authorized-user.json"))),
            ("eventsFile", .string(stateDirectory.file("events.jsonl"))),
            ("apiCAFile", apiCA == nil ? .null : .string(stateDirectory.file("api-ca.crt"))),
            ("pid", .number(Double(getpid()))),
            ("instances", .array(instanceList)),
        ])
    }

    /// Stops the instance endpoints and the HTTP server and closes the event log. Idempotent.
    public func stop() {
        endpoints.stop()
        http.stop()
        events.close()
    }
}
