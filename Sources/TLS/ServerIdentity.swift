/// The name a client expects in the server's certificate: the address it dialled.
///
/// AlloyDB server certificates carry the instance's private IP, public IP and PSC DNS name as
/// subjectAltNames; the client checks the one it used. SNI is sent for DNS names only.
public enum ServerIdentity: Sendable, Equatable, CustomStringConvertible {
    /// An IPv4 or IPv6 literal, matched against IP subjectAltNames.
    case ipAddress(String)
    /// A DNS name, matched against DNS subjectAltNames; one trailing dot is ignored.
    case dnsName(String)

    /// `.ipAddress` when `host` is an IP literal, `.dnsName` otherwise.
    public init(host: String) {
        self = IPAddress.isLiteral(host) ? .ipAddress(host) : .dnsName(host)
    }

    /// The name used for verification and SNI: the address, or the DNS name without one
    /// trailing dot ("db.example.com." becomes "db.example.com").
    public var verificationName: String {
        switch self {
        case .ipAddress(let address):
            return address
        case .dnsName(let name):
            return name.hasSuffix(".") ? String(name.dropLast()) : name
        }
    }

    /// The name as given.
    public var description: String {
        switch self {
        case .ipAddress(let address): return address
        case .dnsName(let name): return name
        }
    }
}
