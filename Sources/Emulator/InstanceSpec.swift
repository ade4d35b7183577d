/// One emulated AlloyDB instance: its resource name, addresses and what its server-side
/// endpoint relays the tunnelled bytes to.
public struct InstanceSpec: Equatable, Sendable {
    /// Where tunnelled bytes go after the metadata exchange.
    public enum Backend: Equatable, Sendable, CustomStringConvertible {
        /// A TCP connection to a PostgreSQL server (or anything else) at host:port.
        case postgres(host: String, port: UInt16)
        /// Every byte received is sent back.
        case echo
        /// Every byte received is discarded; nothing is sent.
        case sink
        /// An endless stream of bytes is sent; received bytes are discarded.
        case source

        public var description: String {
            switch self {
            case .postgres(let host, let port): return "postgres:\(host):\(port)"
            case .echo: return "echo"
            case .sink: return "sink"
            case .source: return "source"
            }
        }
    }

    public var project: String
    public var region: String
    public var cluster: String
    public var instance: String
    /// The private IP: the loopback address the endpoint listens on.
    public var ipAddress: String
    public var publicIPAddress: String?
    public var pscDNSName: String?
    public var backend: Backend?
    /// False for `mdx=off`: the endpoint relays right after the TLS handshake, for clients that
    /// do not speak the metadata exchange (HAProxy, stunnel, psql with `sslcert`).
    public var metadataExchange = true

    /// `projects/P/locations/R/clusters/C/instances/I`.
    public var uri: String {
        "\(clusterName)/instances/\(instance)"
    }

    /// `projects/P/locations/R/clusters/C`.
    public var clusterName: String {
        "projects/\(project)/locations/\(region)/clusters/\(cluster)"
    }

    public init(
        uri: String,
        ipAddress: String,
        publicIPAddress: String? = nil,
        pscDNSName: String? = nil,
        backend: Backend? = nil
    ) throws {
        let parts = uri.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let keywords = ["projects", "locations", "clusters", "instances"]
        guard parts.count == 8,
            (0..<4).allSatisfy({ parts[2 * $0] == keywords[$0] && !parts[2 * $0 + 1].isEmpty }),
            parts[1].filter({ $0 == ":" }).count <= 1,
            !parts[3...].contains(where: { $0.contains(":") })
        else {
            throw EmulatorError(
                .usage,
                "invalid instance URI \"\(uri)\", expected "
                    + "projects/<PROJECT>/locations/<REGION>/clusters/<CLUSTER>/instances/<INSTANCE>"
            )
        }
        guard IPv4.isLiteral(ipAddress) else {
            throw EmulatorError(.usage, "instance \(uri): \"\(ipAddress)\" is not an IPv4 address")
        }
        if let publicIPAddress, !IPv4.isLiteral(publicIPAddress) {
            throw EmulatorError(
                .usage, "instance \(uri): public-ip \"\(publicIPAddress)\" is not an IPv4 address")
        }
        self.project = parts[1]
        self.region = parts[3]
        self.cluster = parts[5]
        self.instance = parts[7]
        self.ipAddress = ipAddress
        self.publicIPAddress = publicIPAddress
        self.pscDNSName = pscDNSName
        self.backend = backend
    }

    /// Parses the `--instance` flag value
    /// `URI=IP[,backend=B][,public-ip=IP][,psc=NAME][,mdx=on|off]`.
    public init(flag: String) throws {
        let items = flag.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let head = items[0].split(separator: "=", maxSplits: 1).map(String.init)
        guard head.count == 2 else {
            throw EmulatorError(.usage, "--instance \"\(flag)\": expected URI=IP[,key=value]...")
        }
        var backend: Backend?
        var publicIP: String?
        var psc: String?
        var metadataExchange = true
        for item in items.dropFirst() {
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[1].isEmpty else {
                throw EmulatorError(.usage, "--instance \"\(flag)\": \"\(item)\" is not key=value")
            }
            switch pair[0] {
            case "backend": backend = try Backend(flag: pair[1])
            case "public-ip": publicIP = pair[1]
            case "psc": psc = pair[1]
            case "mdx":
                guard pair[1] == "on" || pair[1] == "off" else {
                    throw EmulatorError(.usage, "--instance \"\(flag)\": mdx must be on or off")
                }
                metadataExchange = pair[1] == "on"
            default:
                throw EmulatorError(
                    .usage,
                    "--instance \"\(flag)\": unknown key \"\(pair[0])\" "
                        + "(expected backend, public-ip, psc or mdx)"
                )
            }
        }
        try self.init(
            uri: head[0], ipAddress: head[1], publicIPAddress: publicIP, pscDNSName: psc,
            backend: backend)
        self.metadataExchange = metadataExchange
    }
}

extension InstanceSpec.Backend {
    /// Parses `postgres:HOST:PORT`, `echo`, `sink` or `source`.
    public init(flag: String) throws {
        switch flag {
        case "echo": self = .echo
        case "sink": self = .sink
        case "source": self = .source
        default:
            guard flag.hasPrefix("postgres:") else {
                throw EmulatorError(
                    .usage,
                    "backend \"\(flag)\" is not postgres:HOST:PORT, echo, sink or source"
                )
            }
            let endpoint = try HostPort(String(flag.dropFirst("postgres:".count)), flag: "backend")
            self = .postgres(host: endpoint.host, port: endpoint.port)
        }
    }
}

/// A `HOST:PORT` pair from a flag.
public struct HostPort: Equatable, Sendable {
    public var host: String
    public var port: UInt16

    /// Parses `HOST:PORT` (port 1-65535); `flag` names the source in errors.
    public init(_ text: String, flag: String) throws {
        guard let colon = text.lastIndex(of: ":"),
            let port = UInt16(text[text.index(after: colon)...]), port != 0,
            colon != text.startIndex
        else {
            throw EmulatorError(.usage, "\(flag) \"\(text)\" is not HOST:PORT")
        }
        self.host = String(text[..<colon])
        self.port = port
    }
}

/// IPv4 literal checks.
public enum IPv4 {
    /// True when `text` is a dotted-quad IPv4 literal.
    public static func isLiteral(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { $0.count <= 3 && !$0.isEmpty && UInt8($0) != nil }
    }
}
