import Foundation
import Locking
import Synchronization
import TLS

/// The certificate hierarchy of one emulated cluster: a root CA (the `caCert` clients trust and
/// the anchor the server verifies client chains against), an intermediate `client.alloydb`
/// that signs client certificates, and the server certificates of the cluster's instances.
///
/// Thread-safe: issuing runs on HTTP threads, the current hierarchy is swapped atomically on
/// rotation (old client certificates then stop being accepted by new TLS contexts).
public final class ClusterAuthority: Sendable {
    /// One generation of the hierarchy.
    public struct Generation: Sendable {
        /// Increases by one per rotation, so holders can tell a stale hierarchy.
        public let number: Int
        public let root: CertificateAuthority
        public let clientIssuer: CertificateAuthority
    }

    /// `projects/P/locations/R/clusters/C`.
    public let clusterName: String
    private let current: Locked<Generation>

    /// Creates a fresh root and intermediate (two RSA key generations; tens of milliseconds).
    public init(clusterName: String, now: Date = Date()) throws {
        self.clusterName = clusterName
        self.current = Locked(try ClusterAuthority.makeGeneration(clusterName: clusterName, number: 1, now: now))
    }

    private static func makeGeneration(clusterName: String, number: Int, now: Date) throws
        -> Generation
    {
        // Backdated a minute so that clients with slightly slow clocks accept fresh certificates.
        let start = now.addingTimeInterval(-60)
        let cluster = clusterName.split(separator: "/").last.map(String.init) ?? "cluster"
        let root = try CertificateAuthority.create(
            commonName: String("root.\(cluster).alloydb".prefix(64)),
            lifetime: 10 * 365 * 86_400, notBefore: start)
        let intermediate = try root.issueIntermediate(
            commonName: "client.alloydb", lifetime: 365 * 86_400, notBefore: start)
        return Generation(number: number, root: root, clientIssuer: intermediate)
    }

    /// The hierarchy in force now.
    public var generation: Generation {
        current.withLock { $0 }
    }

    /// Replaces the hierarchy with a new root and intermediate.
    public func rotate(now: Date = Date()) throws {
        let number = generation.number + 1
        let fresh = try ClusterAuthority.makeGeneration(
            clusterName: clusterName, number: number, now: now)
        current.withLock { $0 = fresh }
    }

    /// Issues a client certificate for `publicKey`: returns the chain
    /// `[leaf, intermediate, root]` and the root (`caCert`).
    public func issueClientCertificate(
        publicKey: PublicKey,
        lifetime: Int,
        now: Date = Date()
    ) throws -> (chain: [Certificate], caCert: Certificate) {
        let generation = self.generation
        let leaf = try generation.clientIssuer.issue(
            publicKey: publicKey, commonName: "alloydb-client",
            lifetime: TimeInterval(lifetime + 60), notBefore: now.addingTimeInterval(-60),
            purpose: .client)
        let root = generation.root.certificate
        return ([leaf, generation.clientIssuer.certificate, root], root)
    }

    /// Issues the server certificate of an instance: CN `<uid>.server.alloydb`, SANs = the
    /// instance's private and public IPs and PSC name (without the trailing dot).
    public func issueServerCertificate(
        for instance: InstanceSpec,
        uid: String,
        key: PrivateKey,
        now: Date = Date()
    ) throws -> [Certificate] {
        let generation = self.generation
        var ips = [instance.ipAddress]
        if let publicIP = instance.publicIPAddress { ips.append(publicIP) }
        var names: [String] = []
        if let psc = instance.pscDNSName {
            names.append(psc.hasSuffix(".") ? String(psc.dropLast()) : psc)
        }
        let leaf = try generation.root.issue(
            publicKey: key.publicKey, commonName: String("\(uid).server.alloydb".prefix(64)),
            ipAddresses: ips, dnsNames: names, lifetime: 365 * 86_400,
            notBefore: now.addingTimeInterval(-60), purpose: .server)
        return [leaf, generation.root.certificate]
    }
}
