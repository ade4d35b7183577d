// swift-tools-version:6.0
// The AlloyDB Auth Proxy for Linux: an epoll reactor, OpenSSL tunnels and a certificate-refresh
// thread, plus a local AlloyDB emulator for development, tests and benchmarks.
import PackageDescription

/// Swift settings shared by every Swift target: Swift 6 language mode everywhere.
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "alloydb-auth-proxy",
    products: [
        .executable(name: "alloydb-auth-proxy", targets: ["AlloyDBAuthProxy"]),
        .executable(name: "alloydb-emulator", targets: ["AlloyDBEmulator"]),
        .executable(name: "proxy-bench", targets: ["ProxyBench"]),
        .library(name: "Proxy", targets: ["Proxy"]),
        .library(name: "Connector", targets: ["Connector"]),
        .library(name: "EventLoop", targets: ["EventLoop"]),
        .library(name: "TLS", targets: ["TLS"]),
        // The local AlloyDB as a library, for harnesses outside this package (Fuzz/).
        .library(name: "Emulator", targets: ["Emulator"]),
    ],
    targets: [
        // C shims: Swift cannot call variadic C functions or function-like macros, and Glibc's
        // module does not export epoll, eventfd, timerfd or signalfd.
        .target(name: "CLinuxShims"),
        .target(
            name: "COpenSSLShims",
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        .target(name: "CCurlShims", linkerSettings: [.linkedLibrary("curl")]),
        .target(name: "CMicroHTTPD", linkerSettings: [.linkedLibrary("microhttpd")]),
        // libyaml (libyaml-dev) for YAML configuration files.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),

        // The package's lock (a pthread mutex that ThreadSanitizer can see).
        .target(name: "Locking", swiftSettings: strict),
        // The reactor: epoll, timers, signals, sockets and buffers. Knows nothing of TLS.
        .target(name: "EventLoop", dependencies: ["CLinuxShims", "Locking"], swiftSettings: strict),
        // OpenSSL objects and the I/O-free TLS engine both the proxy and the emulator use.
        .target(name: "TLS", dependencies: ["COpenSSLShims", "Locking"], swiftSettings: strict),
        // Admin API, credentials and the refresh thread. Knows nothing of listeners or tunnels.
        .target(
            name: "Connector",
            dependencies: ["TLS", "CCurlShims", "Locking"],
            swiftSettings: strict
        ),
        // Listeners, tunnels, command line and lifecycle.
        .target(
            name: "Proxy",
            dependencies: ["EventLoop", "TLS", "Connector", "CMicroHTTPD", "CYAML", "Locking"],
            swiftSettings: strict
        ),
        .executableTarget(name: "AlloyDBAuthProxy", dependencies: ["Proxy"], swiftSettings: strict),
        // The local AlloyDB: Admin API, token endpoint, CA and the server-side TLS endpoint.
        .target(
            name: "Emulator",
            dependencies: ["EventLoop", "TLS", "CMicroHTTPD", "Locking"],
            swiftSettings: strict
        ),
        .executableTarget(name: "AlloyDBEmulator", dependencies: ["Emulator"], swiftSettings: strict),
        .executableTarget(
            name: "ProxyBench",
            dependencies: ["EventLoop", "TLS", "Emulator"],
            path: "Benchmarks/ProxyBench",
            swiftSettings: strict
        ),

        .testTarget(name: "EventLoopTests", dependencies: ["EventLoop"], swiftSettings: strict),
        .testTarget(name: "TLSTests", dependencies: ["TLS"], swiftSettings: strict),
        .testTarget(
            name: "ConnectorTests",
            dependencies: ["Connector", "Emulator", "TLS"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ProxyTests",
            dependencies: ["Proxy", "EventLoop", "TLS", "Connector"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EmulatorTests",
            dependencies: ["Emulator", "TLS", "EventLoop"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["EventLoop", "TLS"],
            swiftSettings: strict
        ),
    ]
)
