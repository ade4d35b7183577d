/// A validated AlloyDB instance name, `projects/P/locations/R/clusters/C/instances/I`.
///
/// Parsing is strict: the text is split on `/` into exactly eight segments, the keywords must be
/// literal, every value must be non-empty, the project may hold at most one `:` (legacy
/// domain-scoped projects such as `google.com:my-proj`) and no other value may hold any.
/// Immutable; safe to share between threads.
public struct InstanceURI: Hashable, Sendable, CustomStringConvertible {
    /// The project id, possibly domain-scoped (`example.com:proj`).
    public let project: String
    /// The region (location), e.g. `us-central1`.
    public let region: String
    /// The cluster id.
    public let cluster: String
    /// The instance id.
    public let instance: String

    /// Parses `text`; throws a `.config` `ConnectorError` naming the input when it is malformed.
    public init(_ text: String) throws(ConnectorError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 8,
            parts[0] == "projects", parts[2] == "locations",
            parts[4] == "clusters", parts[6] == "instances",
            Self.isValidProject(parts[1]),
            [parts[3], parts[5], parts[7]].allSatisfy(Self.isValidPlainValue)
        else {
            throw ConnectorError(
                .config,
                "invalid instance URI, expected projects/<PROJECT>/locations/<REGION>/clusters/"
                    + "<CLUSTER>/instances/<INSTANCE> (instance URI = \(Self.quoted(text)))"
            )
        }
        project = parts[1]
        region = parts[3]
        cluster = parts[5]
        instance = parts[7]
    }

    /// The full resource name; the parent of `connectionInfo`.
    public var name: String {
        "\(clusterName)/instances/\(instance)"
    }

    /// `projects/P/locations/R/clusters/C`; the parent of `generateClientCertificate`.
    public var clusterName: String {
        "projects/\(project)/locations/\(region)/clusters/\(cluster)"
    }

    /// `P.R.C.I`: the name used in log prefixes, error texts and unix socket directories.
    public var shortName: String {
        "\(project).\(region).\(cluster).\(instance)"
    }

    public var description: String { name }

    private static func isValidProject(_ value: String) -> Bool {
        guard !value.isEmpty else { return false }
        let pieces = value.split(separator: ":", omittingEmptySubsequences: false)
        return pieces.count <= 2 && pieces.allSatisfy { !$0.isEmpty }
    }

    private static func isValidPlainValue(_ value: String) -> Bool {
        !value.isEmpty && !value.contains(":")
    }

    /// Quotes untrusted input for an error message, escaping control characters so that a
    /// hostile argument cannot forge log lines.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
