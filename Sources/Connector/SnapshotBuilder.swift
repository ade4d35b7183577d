import Foundation
import TLS

/// Turns the Admin API answers of one refresh into an `InstanceSnapshot`.
///
/// Runs on the refresh thread: parsing certificates and building the `SSL_CTX` are the costly
/// parts and must stay off the loop. Pure apart from OpenSSL.
enum SnapshotBuilder {
    static func build(
        handle: InstanceHandle,
        api: AdminAPIResult,
        key: PrivateKey,
        mdxToken: AccessToken
    ) throws(ConnectorError) -> InstanceSnapshot {
        let instance = handle.instance
        let info = api.connectionInfo
        let privateIP = nonEmpty(info.ipAddress)
        let publicIP = nonEmpty(info.publicIpAddress)
        let psc = nonEmpty(info.pscDnsName).map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 }
        guard privateIP != nil || publicIP != nil || psc.flatMap(nonEmpty) != nil else {
            throw ConnectorError(
                .config, "cannot connect to instance - it has no supported IP addresses",
                instance: instance.shortName)
        }
        let chosen: String?
        switch handle.ipType {
        case .private: chosen = privateIP
        case .public: chosen = publicIP
        case .psc: chosen = psc.flatMap(nonEmpty)
        }
        guard let dialAddress = chosen else {
            throw ConnectorError(
                .config, "instance does not have IP of type \"\(handle.ipType.rawValue)\"",
                instance: instance.shortName)
        }

        let (chain, ca) = try certificates(api.certificate, instance: instance)
        let context: TLSContext
        do {
            context = try TLSContext.client(certificateChain: chain, key: key, trustedRoots: [ca])
        } catch {
            throw ConnectorError(
                .certificate, "the client certificate cannot be used: \(error)", instance: instance.shortName)
        }
        return InstanceSnapshot(
            instance: instance, tlsContext: context, privateIP: privateIP, publicIP: publicIP,
            pscDNSName: psc.flatMap(nonEmpty), dialAddress: dialAddress, ipType: handle.ipType,
            expiration: chain[0].notAfter, certificateSerial: chain[0].serialNumberHex,
            mdxToken: mdxToken.value, mdxTokenExpiry: mdxToken.expiry, autoIAMAuthN: handle.autoIAMAuthN)
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
