import Foundation

/// The parts of the `connectionInfo` response the connector uses; unknown fields are ignored.
/// Empty strings mean absent.
struct ConnectionInfoResponse: Decodable, Equatable, Sendable {
    var ipAddress: String?
    var publicIpAddress: String?
    var pscDnsName: String?
    var instanceUid: String?

    private enum CodingKeys: String, CodingKey {
        case ipAddress, publicIpAddress, pscDnsName, instanceUid
        case pscDnsNameProto = "psc_dns_name"
    }

    init(ipAddress: String?, publicIpAddress: String?, pscDnsName: String?, instanceUid: String? = nil) {
        self.ipAddress = ipAddress
        self.publicIpAddress = publicIpAddress
        self.pscDnsName = pscDnsName
        self.instanceUid = instanceUid
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ipAddress = try c.decodeIfPresent(String.self, forKey: .ipAddress)
        publicIpAddress = try c.decodeIfPresent(String.self, forKey: .publicIpAddress)
        // protojson also accepts the proto field name; some servers and mocks emit it.
        pscDnsName = try c.decodeIfPresent(String.self, forKey: .pscDnsName)
            ?? c.decodeIfPresent(String.self, forKey: .pscDnsNameProto)
        instanceUid = try c.decodeIfPresent(String.self, forKey: .instanceUid)
    }
}

/// The parts of the `generateClientCertificate` response the connector uses.
struct ClientCertificateResponse: Decodable, Equatable, Sendable {
    /// Leaf first, then intermediates; all of it is presented in TLS.
    var pemCertificateChain: [String]
    /// The cluster CA: the only trust anchor for the server certificate.
    var caCert: String

    private enum CodingKeys: String, CodingKey { case pemCertificateChain, caCert }

    init(pemCertificateChain: [String], caCert: String) {
        self.pemCertificateChain = pemCertificateChain
        self.caCert = caCert
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pemCertificateChain = try c.decodeIfPresent([String].self, forKey: .pemCertificateChain) ?? []
        caCert = try c.decodeIfPresent(String.self, forKey: .caCert) ?? ""
    }
}

/// The request body of `generateClientCertificate` (protojson, zero values omitted).
struct GenerateClientCertificateRequest: Encodable, Equatable, Sendable {
    var parent: String
    var publicKey: String
    var certDuration: String = RefreshTiming.requestedCertificateDuration
    var useMetadataExchange = true
}

/// Google's standard error envelope: `{"error":{"code":..,"message":..,"status":..}}`.
struct GoogleErrorEnvelope: Decodable, Sendable {
    struct Body: Decodable, Sendable {
        var code: Int?
        var message: String?
        var status: String?
    }

    var error: Body
}

/// Both Admin API answers of one refresh, parsed.
struct AdminAPIResult: Sendable {
    var connectionInfo: ConnectionInfoResponse
    var certificate: ClientCertificateResponse
}
