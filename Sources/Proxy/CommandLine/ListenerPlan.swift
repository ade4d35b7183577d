/// Where one instance's listener goes.
public enum ListenerEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// A TCP listener on an IP literal and port (port 0 lets the kernel pick).
    case tcp(host: String, port: Int)
    /// A Unix socket `<directory>/.s.PGSQL.5432`; `directory` is created (mode 0777) when
    /// absent, its parent must exist.
    case unix(directory: String)

    /// The socket file name PostgreSQL clients look for.
    public static let postgresSocketName = ".s.PGSQL.5432"

    /// The socket file of a `.unix` endpoint.
    public var socketPath: String? {
        guard case .unix(let directory) = self else { return nil }
        return directory + "/" + Self.postgresSocketName
    }

    /// `127.0.0.1:5432`, `[::1]:5432` or the socket path: the text after `Listening on`.
    public var description: String {
        switch self {
        case .tcp(let host, let port):
            return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix:
            return socketPath ?? ""
        }
    }
}

/// Assigns a listener to every instance, following the reference proxy's rules:
///
/// * TCP when no Unix socket is configured for the instance, or when it has its own `address`
///   or `port`. Host = instance address or `--address`; port = instance port, else the global
///   counter, which starts at `--port` and advances only when used.
/// * Otherwise Unix: `unix-socket-path` names the directory directly (a trailing
///   `/.s.PGSQL.5432` is stripped); else the directory is `--unix-socket` (which wins) or the
///   instance's `unix-socket`, plus the short name lower-cased with `:` replaced by `_`.
///
/// Pure; touches no file system.
public enum ListenerPlan {
    /// One endpoint per instance, in order.
    ///
    /// - Throws: `ConfigError` when the port counter passes 65535.
    public static func endpoints(for options: ProxyOptions) throws -> [ListenerEndpoint] {
        var nextPort = options.port
        var endpoints: [ListenerEndpoint] = []
        var owners: [ListenerEndpoint: String] = [:]
        for instance in options.instances {
            let endpoint = try endpoint(for: instance, options, &nextPort)
            // Port 0 lets the kernel pick a fresh port each time, so it never collides.
            if case .tcp(_, 0) = endpoint {
            } else if let owner = owners[endpoint] {
                throw ConfigError.conflicting(
                    "\(owner) and \(instance.shortName) would both listen on \(endpoint); "
                        + "give each instance its own port or socket")
            }
            owners[endpoint] = instance.shortName
            endpoints.append(endpoint)
        }
        return endpoints
    }

    private static func endpoint(
        for instance: InstanceArgument,
        _ options: ProxyOptions,
        _ nextPort: inout Int
    ) throws -> ListenerEndpoint {
        let wantsUnix = options.unixSocket != nil || instance.unixSocket != nil
            || instance.unixSocketPath != nil
        let wantsTCP = instance.address != nil || instance.port != nil
        if !wantsUnix || wantsTCP {
            let host = instance.address ?? options.address
            if let port = instance.port {
                return .tcp(host: host, port: port)
            }
            guard nextPort <= 65535 else {
                throw ConfigError.invalidValue(
                    "--port",
                    String(options.port),
                    "too many instances: port \(nextPort) for \(instance.shortName) is out of range"
                )
            }
            // With `--port 0` every instance gets a kernel-chosen port, so the counter stays.
            defer { nextPort += nextPort == 0 ? 0 : 1 }
            return .tcp(host: host, port: nextPort)
        }

        if let path = instance.unixSocketPath {
            return .unix(directory: strippingSocketName(path))
        }
        // A global --unix-socket takes precedence over the instance's own directory.
        let base = options.unixSocket ?? instance.unixSocket ?? ""
        return .unix(directory: joined(base, socketDirectoryName(instance.shortName)))
    }

    /// `P.R.C.I` lower-cased with `:` (domain-scoped projects) replaced by `_`.
    public static func socketDirectoryName(_ shortName: String) -> String {
        String(shortName.lowercased().map { $0 == ":" ? "_" : $0 })
    }

    private static func strippingSocketName(_ path: String) -> String {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        let suffix = "/" + ListenerEndpoint.postgresSocketName
        if trimmed.hasSuffix(suffix) {
            trimmed.removeLast(suffix.count)
            if trimmed.isEmpty { trimmed = "/" }
        } else if trimmed == ListenerEndpoint.postgresSocketName {
            trimmed = "."
        }
        return trimmed
    }

    private static func joined(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
