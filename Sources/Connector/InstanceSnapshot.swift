import Foundation
import TLS

/// Which of the instance's addresses the proxy dials.
public enum IPType: String, Sendable, CaseIterable {
    /// The private (PSA) IP, `ipAddress`.
    case `private` = "PRIVATE"
    /// The public IP, `publicIpAddress`.
    case `public` = "PUBLIC"
    /// The Private Service Connect DNS name, `pscDnsName`.
    case psc = "PSC"
}

/// Everything needed to open tunnels to one instance, from one successful refresh.
///
/// Immutable. Built on the refresh thread (including the `SSL_CTX`, the costly part) and
/// published through `InstanceHandle`. The TLS context is shared by every tunnel started from
/// this snapshot; tunnels that began with an older snapshot keep it alive until they finish.
public final class InstanceSnapshot: Sendable {
    /// The instance this snapshot belongs to.
    public let instance: InstanceURI
    /// Client context: our chain and key, trusting only the cluster CA, TLS 1.3 only.
    public let tlsContext: TLSContext
    /// `ipAddress`, if the instance has one.
    public let privateIP: String?
    /// `publicIpAddress`, if enabled.
    public let publicIP: String?
    /// `pscDnsName` without its trailing dot, if PSC is enabled.
    public let pscDNSName: String?
    /// The address of the type the handle asked for (always present: a snapshot is not built
    /// when it is missing). Also the name to verify in the server certificate.
    public let dialAddress: String
    /// The IP literal to connect to: `dialAddress` itself for private and public IPs, the PSC
    /// DNS name's address as resolved on the refresh side (never on the loop). Nil only for
    /// snapshots built without a lookup; the caller must then resolve `dialAddress` itself.
    /// Verification still uses `dialAddress`.
    public let resolvedIP: String?
    /// The IP type `dialAddress` was chosen for.
    public let ipType: IPType
    /// The client certificate's notAfter (wall clock). Tunnels must not start after it.
    public let expiration: Date
    /// The client certificate's serial number in hex, for logs.
    public let certificateSerial: String
    /// The OAuth2 token sent in the metadata exchange. Secret: never log it.
    public let mdxToken: String
    /// When `mdxToken` expires, if known.
    public let mdxTokenExpiry: Date?
    /// True to send AUTO_IAM in the metadata exchange, false for DB_NATIVE.
    public let autoIAMAuthN: Bool

    public init(
        instance: InstanceURI,
        tlsContext: TLSContext,
        privateIP: String?,
        publicIP: String?,
        pscDNSName: String?,
        dialAddress: String,
        ipType: IPType,
        expiration: Date,
        certificateSerial: String,
        mdxToken: String,
        mdxTokenExpiry: Date?,
        autoIAMAuthN: Bool,
        resolvedIP: String? = nil
    ) {
        self.instance = instance
        self.tlsContext = tlsContext
        self.privateIP = privateIP
        self.publicIP = publicIP
        self.pscDNSName = pscDNSName
        self.dialAddress = dialAddress
        self.ipType = ipType
        self.expiration = expiration
        self.certificateSerial = certificateSerial
        self.mdxToken = mdxToken
        self.mdxTokenExpiry = mdxTokenExpiry
        self.autoIAMAuthN = autoIAMAuthN
        self.resolvedIP = resolvedIP
    }

    /// True while both the certificate and the MDX token are usable at `now`.
    public func isValid(at now: Date) -> Bool {
        now < expiration && (mdxTokenExpiry.map { now < $0 } ?? true)
    }

    /// The earlier of the certificate and token expiries: what refresh scheduling follows.
    public var effectiveExpiration: Date {
        min(expiration, mdxTokenExpiry ?? expiration)
    }

    /// The same snapshot (sharing the TLS context) with a renewed MDX token.
    func replacingMDXToken(_ token: AccessToken) -> InstanceSnapshot {
        InstanceSnapshot(
            instance: instance, tlsContext: tlsContext, privateIP: privateIP, publicIP: publicIP,
            pscDNSName: pscDNSName, dialAddress: dialAddress, ipType: ipType, expiration: expiration,
            certificateSerial: certificateSerial, mdxToken: token.value, mdxTokenExpiry: token.expiry,
            autoIAMAuthN: autoIAMAuthN, resolvedIP: resolvedIP)
    }

    /// The metadata exchange request for a tunnel from this snapshot.
    public func metadataExchangeRequest(userAgent: String) -> MetadataExchangeRequest {
        MetadataExchangeRequest(
            userAgent: userAgent, authType: autoIAMAuthN ? .autoIAM : .dbNative, oauth2Token: mdxToken)
    }
}
