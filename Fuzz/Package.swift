// swift-tools-version:6.0
// libFuzzer harnesses for every parser of outside input. A package of its own so that the
// product's normal builds never see `-sanitize=fuzzer`; scripts/fuzz.sh builds and runs it.
import PackageDescription

/// Swift 6 language mode, like the product.
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

/// One fuzzer per parser: the name (target `fuzz-<name>`, sources `Fuzzers/<name>`, seeds
/// `Corpus/<name>`, crash reproducers `Regressions/<name>`) and the product modules it uses.
let fuzzers: [(name: String, modules: [String])] = [
    // Connector: what the Admin API, token endpoints, credential files and instances send.
    ("mdx-response", ["Connector"]),
    ("connection-info", ["Connector"]),
    ("client-certificate", ["Connector", "TLS"]),
    ("token-response", ["Connector"]),
    ("credentials", ["Connector"]),
    ("instance-uri", ["Connector"]),
    // TLS: PEM from the Admin API, files and certificate requests.
    ("pem-certificate", ["TLS"]),
    ("pem-private-key", ["TLS"]),
    ("pem-public-key", ["TLS"]),
    // Proxy: command line, environment and configuration files.
    ("command-line", ["Proxy", "Connector"]),
    ("instance-query", ["Proxy", "Connector"]),
    ("go-duration", ["Proxy"]),
    ("config-toml", ["Proxy"]),
    ("config-yaml", ["Proxy"]),
    ("config-json", ["Proxy"]),
    // Emulator: everything a client of the local AlloyDB can send it.
    ("emulator-http", ["Emulator", "TLS"]),
    ("emulator-json", ["Emulator"]),
    ("emulator-mdx", ["Emulator"]),
]

let package = Package(
    name: "alloydb-auth-proxy-fuzz",
    dependencies: [.package(name: "alloydb-auth-proxy", path: "..")],
    targets: [
        // Declares libFuzzer's driver entry; the symbol comes from `-sanitize=fuzzer`.
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver"], swiftSettings: strict),
        // The configuration file harness the TOML, YAML and JSON fuzzers share.
        .target(
            name: "ProxyFuzzSupport",
            dependencies: ["FuzzSupport", .product(name: "Proxy", package: "alloydb-auth-proxy")],
            swiftSettings: strict
        ),
    ] + fuzzers.map { fuzzer in
        .executableTarget(
            name: "fuzz-\(fuzzer.name)",
            dependencies: ["FuzzSupport"]
                + (fuzzer.name.hasPrefix("config-") ? ["ProxyFuzzSupport"] : [])
                + fuzzer.modules.map { .product(name: $0, package: "alloydb-auth-proxy") },
            path: "Fuzzers/\(fuzzer.name)",
            swiftSettings: strict
        )
    }
)
