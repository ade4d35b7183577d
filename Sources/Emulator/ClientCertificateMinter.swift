import Foundation
import TLS

/// `alloydb-emulator mint-client-cert`: obtains a client certificate for the no-MDX endpoint
/// mode from a running emulator, the way a connector would (JWT grant with the state
/// directory's service account, then `generateClientCertificate` with
/// `useMetadataExchange: false`), and writes it for TLS peers that take files:
///
/// | file | contents | used as |
/// |---|---|---|
/// | `client.key` | PKCS#8 PEM private key (0600) | psql `sslkey`, stunnel `key` |
/// | `client.crt` | leaf + intermediate PEM | psql `sslcert`, stunnel `cert` |
/// | `client.pem` | leaf + intermediate + key | HAProxy `crt` |
/// | `ca.crt` | the cluster root (`caCert`) | psql `sslrootcert`, stunnel `CAfile`, HAProxy `ca-file` |
///
/// Blocking; called from the command line only.
public struct ClientCertificateMinter {
    /// What `mint-client-cert` is asked for.
    public struct Options: Equatable, Sendable {
        /// The running emulator's state directory (emulator.json, service-account.json).
        public var stateDirectory: String
        /// Where the files are written; created if missing.
        public var outputDirectory: String
        /// `projects/P/locations/R/clusters/C`; default: the cluster of the first instance.
        public var cluster: String?

        public init(stateDirectory: String, outputDirectory: String, cluster: String? = nil) {
            self.stateDirectory = stateDirectory
            self.outputDirectory = outputDirectory
            self.cluster = cluster
        }
    }

    public let options: Options

    public init(options: Options) {
        self.options = options
    }

    /// Mints and writes the files; returns the paths written. Throws `EmulatorError` naming
    /// the file, request or field that failed.
    @discardableResult
    public func run(now: Date = Date()) throws -> [String] {
        let state = StateFiles(directory: options.stateDirectory)
        let ready = try state.document("emulator.json")
        let account = try state.document("service-account.json")
        guard let api = ready["apiEndpoint"]?.stringValue, let tokenURI = ready["tokenURI"]?.stringValue,
            let email = account["client_email"]?.stringValue,
            let keyPEM = account["private_key"]?.stringValue
        else {
            throw EmulatorError(.invalidArgument, "\(options.stateDirectory) does not hold a complete emulator state")
        }
        let apiCA = try ready["apiCAFile"]?.stringValue.map {
            try Certificate(pem: try String(contentsOfFile: $0, encoding: .utf8))
        }
        let firstURI = ready["instances"]?.arrayValue?.first?["uri"]?.stringValue
        guard let cluster = options.cluster ?? firstURI.map(Self.clusterName(ofInstance:)) else {
            throw EmulatorError(.invalidArgument, "the emulator has no instances; pass --cluster")
        }

        let token = try accessToken(
            tokenURI: tokenURI, email: email, key: try PrivateKey(pem: keyPEM),
            keyID: account["private_key_id"]?.stringValue ?? "", apiCA: apiCA, now: now)
        let clientKey = try PrivateKey.generateRSA()
        let request = JSONValue.object([
            ("parent", .string(cluster)), ("publicKey", .string(clientKey.publicKey.pem(.spki))),
            ("certDuration", "3600s"), ("useMetadataExchange", false),
        ])
        let reply = try LoopbackHTTPClient.request(
            "\(api)/v1alpha/\(cluster):generateClientCertificate", method: "POST",
            headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"],
            body: request.bytes, trustedCA: apiCA)
        let json = try JSONValue.parse(reply.body)
        guard reply.status == 200, let chain = json["pemCertificateChain"]?.arrayValue?.compactMap(\.stringValue),
            chain.count >= 2, let ca = json["caCert"]?.stringValue
        else {
            throw EmulatorError(
                .invalidArgument, "generateClientCertificate answered \(reply.status): \(json.serialized)")
        }
        return try write(chain: Array(chain.dropLast()), ca: ca, key: clientKey)
    }

    /// `projects/P/locations/R/clusters/C` of an instance URI.
    static func clusterName(ofInstance uri: String) -> String {
        uri.components(separatedBy: "/instances/").first ?? uri
    }

    private func accessToken(
        tokenURI: String, email: String, key: PrivateKey, keyID: String, apiCA: Certificate?, now: Date
    ) throws -> String
    {
        let issued = Int(now.timeIntervalSince1970) - 10
        let header = JSONValue.object([("alg", "RS256"), ("typ", "JWT"), ("kid", .string(keyID))])
        let claims = JSONValue.object([
            ("iss", .string(email)), ("scope", .string(cloudPlatformScope)), ("aud", .string(tokenURI)),
            ("iat", .number(Double(issued))), ("exp", .number(Double(issued + 3600))),
        ])
        let input = Base64URL.encode(header.bytes) + "." + Base64URL.encode(claims.bytes)
        let assertion = input + "." + Base64URL.encode(try key.signSHA256(Array(input.utf8)))
        let form = "grant_type=" + FormCoding.formEncode("urn:ietf:params:oauth:grant-type:jwt-bearer")
            + "&assertion=" + assertion
        let reply = try LoopbackHTTPClient.request(
            tokenURI, method: "POST",
            headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Array(form.utf8),
            trustedCA: apiCA)
        let json = try JSONValue.parse(reply.body)
        guard reply.status == 200, let token = json["access_token"]?.stringValue else {
            throw EmulatorError(.invalidGrant, "the token endpoint answered \(reply.status): \(json.serialized)")
        }
        return token
    }

    private func write(chain: [String], ca: String, key: PrivateKey) throws -> [String] {
        let directory = try StateDirectory(path: options.outputDirectory, clearReadiness: false)
        let certificates = chain.map { $0.hasSuffix("\n") ? $0 : $0 + "\n" }.joined()
        let files: [(String, String)] = [
            ("client.key", key.pem()),
            ("client.crt", certificates),
            ("client.pem", certificates + key.pem()),
            ("ca.crt", ca.hasSuffix("\n") ? ca : ca + "\n"),
        ]
        for (name, contents) in files { try directory.write(name, Array(contents.utf8)) }
        return files.map { directory.file($0.0) }
    }
}

/// Reads JSON documents from a state directory.
struct StateFiles {
    let directory: String

    func document(_ name: String) throws -> JSONValue {
        let path = (directory as NSString).appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EmulatorError(.stateDirectory, "cannot read \(path)")
        }
        do {
            return try JSONValue.parse(Array(data))
        } catch {
            throw EmulatorError(.malformedJSON, "\(path): \(error)")
        }
    }
}
