import Foundation
import TLS

/// The AlloyDB Admin API subset the connectors use, under `/v1`, `/v1beta` and `/v1alpha`:
/// `GET .../instances/I/connectionInfo` and `POST .../clusters/C:generateClientCertificate`.
///
/// Every call needs `Authorization: Bearer <token>` issued by this emulator with the
/// cloud-platform scope. Failures use Google's error envelope. Thread-safe; runs on HTTP
/// threads (certificate issuing costs one RSA signature per call).
public struct AdminAPI: Sendable {
    /// An emulated instance as the API sees it.
    public struct Instance: Sendable {
        public let spec: InstanceSpec
        public let uid: String
    }

    private let instances: [String: Instance]
    private let authorities: [String: ClusterAuthority]
    private let tokens: TokenStore
    private let faults: FaultSwitches
    private let events: EventLog?
    private let clock: @Sendable () -> Date

    public init(
        instances: [Instance],
        authorities: [String: ClusterAuthority],
        tokens: TokenStore,
        faults: FaultSwitches,
        events: EventLog? = nil,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.instances = Dictionary(instances.map { ($0.spec.uri, $0) }, uniquingKeysWith: { a, _ in a })
        self.authorities = authorities
        self.tokens = tokens
        self.faults = faults
        self.events = events
        self.clock = clock
    }

    /// The API versions whose paths are served.
    static let versions: Set<String> = ["v1", "v1beta", "v1alpha"]

    /// True when `path` belongs to the Admin API (so the caller routes it here).
    static func owns(path: String) -> Bool {
        guard let first = path.split(separator: "/").first else { return false }
        return versions.contains(String(first))
    }

    /// Handles one Admin API request whose decoded path is `path`.
    public func handle(_ request: HTTPRequest, path: String) -> HTTPResponse {
        if let denied = authorize(request) { return denied }
        if let injected = faults.takeAPIError() {
            return .googleError(injected.code, injected.status, injected.message)
        }

        let resource = path.split(separator: "/", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        if resource.hasSuffix("/connectionInfo") {
            guard request.method == "GET" else { return methodNotAllowed(request) }
            return connectionInfo(instanceName: String(resource.dropLast("/connectionInfo".count)))
        }
        if resource.hasSuffix(":generateClientCertificate") {
            guard request.method == "POST" else { return methodNotAllowed(request) }
            let cluster = String(resource.dropLast(":generateClientCertificate".count))
            return generateClientCertificate(clusterName: cluster, body: request.body)
        }
        return .googleError(404, "NOT_FOUND", "Method not found: \(request.method) \(path)")
    }

    private func methodNotAllowed(_ request: HTTPRequest) -> HTTPResponse {
        .googleError(405, "UNIMPLEMENTED", "Method \(request.method) is not supported for this resource.")
    }

    /// nil when the bearer token is acceptable, else the 401/403 response.
    private func authorize(_ request: HTTPRequest) -> HTTPResponse? {
        let unauthenticated = HTTPResponse.googleError(
            401, "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                + "login cookie or other valid authentication credential.")
        guard let header = request.header("Authorization"),
            header.lowercased().hasPrefix("bearer ")
        else { return unauthenticated }
        let token = header.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        switch tokens.validate(token) {
        case .failure:
            return unauthenticated
        case .success(let grant):
            guard grant.scopes.contains(cloudPlatformScope) else {
                return .googleError(
                    403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
            }
            return nil
        }
    }

    private func connectionInfo(instanceName: String) -> HTTPResponse {
        guard let instance = instances[instanceName] else {
            return .googleError(404, "NOT_FOUND", "Resource '\(instanceName)' was not found")
        }
        var members: [(String, JSONValue)] = [
            ("name", .string(instanceName + "/connectionInfo")),
            ("ipAddress", .string(instance.spec.ipAddress)),
        ]
        if let publicIP = instance.spec.publicIPAddress {
            members.append(("publicIpAddress", .string(publicIP)))
        }
        if let psc = instance.spec.pscDNSName {
            members.append(("pscDnsName", .string(psc)))
        }
        members.append(("instanceUid", .string(instance.uid)))
        return .json(200, .object(members))
    }

    private func generateClientCertificate(clusterName: String, body: [UInt8]) -> HTTPResponse {
        guard let authority = authorities[clusterName] else {
            return .googleError(404, "NOT_FOUND", "Resource '\(clusterName)' was not found")
        }
        let publicKey: PublicKey
        let usesMetadataExchange: Bool
        do {
            (publicKey, usesMetadataExchange) = try parseCertificateRequest(body, clusterName: clusterName)
        } catch {
            return .googleError(400, "INVALID_ARGUMENT", "\(error)")
        }
        do {
            let issued = try authority.issueClientCertificate(
                publicKey: publicKey, lifetime: faults.certificateLifetime, now: clock())
            // Tests match the serials presented on tunnels against the ones issued here.
            events?.record([
                ("event", "certificate"), ("cluster", .string(clusterName)),
                ("serial", .string(issued.chain[0].serialNumberHex)),
                ("useMetadataExchange", .bool(usesMetadataExchange)),
            ])
            return .json(
                200,
                .object([
                    ("pemCertificateChain", .array(issued.chain.map { .string($0.pem) })),
                    ("caCert", .string(issued.caCert.pem)),
                ]))
        } catch {
            return .googleError(500, "INTERNAL", "certificate issuing failed: \(error)")
        }
    }

    /// Validates the request body; returns the public key to certify and whether the client
    /// will run the metadata exchange (proto3: an absent `useMetadataExchange` is false).
    private func parseCertificateRequest(_ body: [UInt8], clusterName: String) throws
        -> (PublicKey, Bool)
    {
        let json = try JSONValue.parse(body)
        guard case .object = json else {
            throw EmulatorError(.invalidArgument, "the request body must be a JSON object")
        }
        if let parent = json["parent"] {
            guard parent.stringValue == clusterName else {
                throw EmulatorError(
                    .invalidArgument, "parent does not match the cluster in the URL (\(clusterName))")
            }
        }
        if let duration = json["certDuration"] {
            guard let text = duration.stringValue, text.hasSuffix("s"),
                Double(text.dropLast()) != nil
            else { throw EmulatorError(.invalidArgument, "certDuration must look like \"3600s\"") }
        }
        if let metadata = json["useMetadataExchange"], metadata.boolValue == nil {
            throw EmulatorError(.invalidArgument, "useMetadataExchange must be a boolean")
        }
        guard let pem = json["publicKey"]?.stringValue, !pem.isEmpty else {
            throw EmulatorError(.invalidArgument, "publicKey is required")
        }
        do {
            return (try PublicKey(pem: pem), json["useMetadataExchange"]?.boolValue ?? false)
        } catch {
            throw EmulatorError(.invalidArgument, "publicKey is not a PEM RSA public key: \(error)")
        }
    }
}
