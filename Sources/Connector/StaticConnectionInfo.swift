import Foundation
import TLS

/// The `--static-connection-info FILE` document, parsed once and shared by every instance.
///
/// Shape: `{"privateKey": PEM, "publicKey": PEM (unused), "<instance URI>": {"ipAddress",
/// "publicIpAddress", "pscInstanceConfig": {"pscDnsName"}, "pemCertificateChain", "caCert"}}`.
/// Member names of an instance entry match case-insensitively (as Go's JSON decoding does,
/// so `publicIPAddress` works). Immutable; the connection info is never refreshed.
struct StaticConnectionInfo: Sendable {
    /// The client private key matching every entry's leaf certificate.
    let privateKey: PrivateKey
    /// Answers per full instance name.
    let entries: [String: AdminAPIResult]

    /// Reads and parses `path`; a missing, oversized or malformed file is a `.config` error
    /// naming the file and what is wrong.
    static func load(path: String) throws(ConnectorError) -> StaticConnectionInfo {
        let origin = "static connection info file \(InstanceURI.quoted(path))"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConnectorError(.config, "could not read \(origin)")
        }
        guard data.count <= 4 << 20 else { throw ConnectorError(.config, "\(origin) is larger than 4 MiB") }
        return try parse(Array(data), origin: origin)
    }

    static func parse(_ bytes: [UInt8], origin: String) throws(ConnectorError) -> StaticConnectionInfo {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw ConnectorError(.config, "\(origin) is not a JSON object")
        }
        guard let pem = object["privateKey"] as? String, let key = try? PrivateKey(pem: pem) else {
            throw ConnectorError(.config, "\(origin) has no usable privateKey (a PEM RSA private key)")
        }
        var entries: [String: AdminAPIResult] = [:]
        for (name, value) in object where name != "privateKey" && name != "publicKey" {
            do {
                _ = try InstanceURI(name)
            } catch {
                throw ConnectorError(
                    .config, "\(origin) has member \(InstanceURI.quoted(name)), which is not an instance URI")
            }
            guard let fields = value as? [String: Any] else {
                throw ConnectorError(.config, "\(origin): entry \(InstanceURI.quoted(name)) is not an object")
            }
            entries[name] = try entry(fields, name: name, origin: origin)
        }
        return StaticConnectionInfo(privateKey: key, entries: entries)
    }

    private static func entry(
        _ raw: [String: Any], name: String, origin: String
    ) throws(ConnectorError) -> AdminAPIResult {
        let fields = Dictionary(raw.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        let psc = (fields["pscinstanceconfig"] as? [String: Any]).flatMap { config in
            config.first { $0.key.lowercased() == "pscdnsname" }?.value as? String
        }
        let chain = fields["pemcertificatechain"] as? [String]
        let ca = fields["cacert"] as? String
        guard let chain, !chain.isEmpty, let ca, !ca.isEmpty else {
            throw ConnectorError(
                .config, "\(origin): entry \(InstanceURI.quoted(name)) needs pemCertificateChain and caCert")
        }
        let info = ConnectionInfoResponse(
            ipAddress: fields["ipaddress"] as? String, publicIpAddress: fields["publicipaddress"] as? String,
            pscDnsName: psc)
        return AdminAPIResult(
            connectionInfo: info, certificate: ClientCertificateResponse(pemCertificateChain: chain, caCert: ca))
    }

    /// The entry for `instance`, or a terminal `.config` error "unknown instance".
    func entry(for instance: InstanceURI) throws(ConnectorError) -> AdminAPIResult {
        guard let entry = entries[instance.name] else {
            throw ConnectorError(
                .config, "unknown instance: the static connection info file has no entry for it",
                instance: instance.shortName)
        }
        return entry
    }
}
