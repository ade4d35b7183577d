/// The `--help` and `--version` texts.
public enum Usage {
    /// The proxy's version, printed by `--version` and sent in User-Agent headers.
    public static let version = "1.15.2"

    /// `alloydb-auth-proxy version <v>`, as the reference prints it.
    public static var versionLine: String {
        "alloydb-auth-proxy version \(version)"
    }

    /// The help text: synopsis, query parameters and every flag with its short form.
    public static var text: String {
        var lines = [
            "Usage:",
            "  alloydb-auth-proxy [flags] INSTANCE_URI[?query] ...",
            "  alloydb-auth-proxy wait [--max|-m duration] [--http-address a] [--http-port p]",
            "  alloydb-auth-proxy shutdown [--admin-port p]",
            "",
            "INSTANCE_URI is projects/PROJECT/locations/REGION/clusters/CLUSTER/instances/INSTANCE.",
            "Per-instance query parameters: address, port, unix-socket, unix-socket-path,",
            "auto-iam-authn, public-ip, psc (e.g. INSTANCE_URI?port=6000).",
            "Every flag can also be set as ALLOYDB_PROXY_<FLAG> in the environment, or as a key",
            "of --config-file. Precedence: flag, then environment, then file, then default.",
            "Instances: ALLOYDB_PROXY_INSTANCE_URI[_N] or the file keys instance-uri[-N].",
            "",
            "Subcommands:",
            "  wait      Poll /startup every second until it answers 200; exit 1 after --max (30s).",
            "  shutdown  POST /quitquitquit to the admin server on 127.0.0.1:--admin-port.",
        ]
        for group in Flag.groups {
            lines.append("")
            lines.append(group.title + ":")
            for flag in group.flags {
                let short = flag.short.map { "-\($0), " } ?? "    "
                let value = flag.kind == .bool ? "" : " " + placeholder(flag.kind)
                let left = "  \(short)--\(flag.name)\(value)"
                let padding = String(repeating: " ", count: max(2, 44 - left.count))
                lines.append(left + padding + flag.help)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func placeholder(_ kind: Flag.Kind) -> String {
        switch kind {
        case .string: return "string"
        case .bool: return ""
        case .int: return "int"
        case .uint: return "uint"
        case .duration: return "duration"
        }
    }
}
