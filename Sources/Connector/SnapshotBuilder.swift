import Foundation
import TLS

/// Turns the Admin API answers of one refresh into an `InstanceSnapshot`.
///
/// Runs on the refresh thread: parsing certificates and building the `SSL_CTX` are the costly
/// parts and must stay off the loop. Pure apart from OpenSSL.
enum SnapshotBuilder {
    /// The parsed addresses of a `connectionInfo` answer (empty strings are absent; the PSC
    /// name loses one trailing dot) and the one `handle` dials; a `.config` error names the
    /// instance when there is no address at all or none of the requested type.
    struct Addresses: Sendable {
        var privateIP: String?
        var publicIP: String?
        var pscDNSName: String?
        var dialAddress: String
    }

    static func addresses(handle: InstanceHandle, info: ConnectionInfoResponse) throws(ConnectorError) -> Addresses {
        let instance = handle.instance
        let privateIP = nonEmpty(info.ipAddress)
        let publicIP = nonEmpty(info.publicIpAddress)
        let psc = nonEmpty(nonEmpty(info.pscDnsName).map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 })
        guard privateIP != nil || publicIP != nil || psc != nil else {
            throw ConnectorError(
                .config, "cannot connect to instance - it has no supported IP addresses",
                instance: instance.shortName)
        }
        let chosen: String?
        switch handle.ipType {
        case .private: chosen = privateIP
        case .public: chosen = publicIP
        case .psc: chosen = psc
        }
        guard let dialAddress = chosen else {
            throw ConnectorError(
                .config, "instance does not have IP of type \"\(handle.ipType.rawValue)\"",
                instance: instance.shortName)
        }
        return Addresses(privateIP: privateIP, publicIP: publicIP, pscDNSName: psc, dialAddress: dialAddress)
    }

    /// Builds the snapshot; `resolvedIP` is the PSC name's address (ignored for IP types).
    static func build(
        handle: InstanceHandle,
        api: AdminAPIResult,
        key: PrivateKey,
        mdxToken: AccessToken,
        resolvedIP: String? = nil
    ) throws(ConnectorError) -> InstanceSnapshot {
        let instance = handle.instance
        let addresses = try addresses(handle: handle, info: api.connectionInfo)
        let dialAddress = addresses.dialAddress

        let (chain, ca) = try certificates(api.certificate, instance: instance)
        let context: TLSContext
        do {
            context = try TLSContext.client(certificateChain: chain, key: key, trustedRoots: [ca])
        } catch {
            throw ConnectorError(
                .certificate, "the client certificate cannot be used: \(error)", instance: instance.shortName)
        }
        return InstanceSnapshot(
            instance: instance, tlsContext: context, privateIP: addresses.privateIP, publicIP: addresses.publicIP,
            pscDNSName: addresses.pscDNSName, dialAddress: dialAddress, ipType: handle.ipType,
            expiration: chain[0].notAfter, certificateSerial: chain[0].serialNumberHex,
            mdxToken: mdxToken.value, mdxTokenExpiry: mdxToken.expiry, autoIAMAuthN: handle.autoIAMAuthN,
            resolvedIP: handle.ipType == .psc ? resolvedIP : dialAddress)
    }

    private static func certificates(
        _ response: ClientCertificateResponse,
        instance: InstanceURI
    ) throws(ConnectorError) -> (chain: [Certificate], ca: Certificate) {
        let ca: Certificate
        do {
            ca = try Certificate(pem: response.caCert)
        } catch {
            throw ConnectorError(.certificate, "no PEM data found in the ca cert", instance: instance.shortName)
        }
        let chain: [Certificate]
        do {
            chain = try Certificate.chain(fromPEM: response.pemCertificateChain.joined(separator: "\n"))
        } catch {
            throw ConnectorError(
                .certificate, "the client certificate chain cannot be parsed: \(error)", instance: instance.shortName)
        }
        guard !chain.isEmpty else {
            throw ConnectorError(.certificate, "the client certificate chain is empty", instance: instance.shortName)
        }
        return (chain, ca)
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }
}
