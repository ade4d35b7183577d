// swift-tools-version:6.0
// libFuzzer harnesses for every parser of outside input. A package of its own so that the
// product's normal builds never see `-sanitize=fuzzer`; scripts/fuzz.sh builds and runs it.
import PackageDescription

/// Swift 6 language mode, like the product.
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

/// One fuzzer per parser: the name (target `fuzz-<name>`, sources `Fuzzers/<name>`, seeds
/// `Corpus/<name>`, crash reproducers `Regressions/<name>`) and the product modules it uses.
let fuzzers: [(name: String, modules: [String])] = [
    ("instance-uri", ["Connector"]),
]

let package = Package(
    name: "alloydb-auth-proxy-fuzz",
    dependencies: [.package(name: "alloydb-auth-proxy", path: "..")],
    targets: [
        // Declares libFuzzer's driver entry; the symbol comes from `-sanitize=fuzzer`.
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver"], swiftSettings: strict),
    ] + fuzzers.map { fuzzer in
        .executableTarget(
            name: "fuzz-\(fuzzer.name)",
            dependencies: ["FuzzSupport"]
                + fuzzer.modules.map { .product(name: $0, package: "alloydb-auth-proxy") },
            path: "Fuzzers/\(fuzzer.name)",
            swiftSettings: strict
        )
    }
)
