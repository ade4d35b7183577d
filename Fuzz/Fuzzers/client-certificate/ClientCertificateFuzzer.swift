@testable import Connector
import FuzzSupport
import TLS

/// The Admin API `generateClientCertificate` answer: JSON decoding, then what a refresh does
/// with it (PEM chain and CA parsing, the TLS client context, the snapshot's expiry and serial).
///
/// The whole input is a 200 response body. Properties: a built snapshot dials the fixture's
/// address and carries the leaf's serial; every failure is a typed `ConnectorError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func clientCertificateTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let response = HTTPResponse(status: 200, body: FuzzInput(data, size).bytes)
    let parsed = AdminAPIClient.parse(
        response, as: ClientCertificateResponse.self, instance: ClientCertificateFixture.instance,
        call: "create ephemeral cert failed")
    guard case .success(let certificate) = parsed else { return 0 }

    let api = AdminAPIResult(
        connectionInfo: ConnectionInfoResponse(
            ipAddress: "10.0.0.1", publicIpAddress: nil, pscDnsName: nil),
        certificate: certificate)
    do {
        let snapshot = try SnapshotBuilder.build(
            handle: ClientCertificateFixture.handle, api: api, key: ClientCertificateFixture.key,
            mdxToken: AccessToken(value: "fuzz-token", expiry: nil))
        FuzzCheck.require(snapshot.dialAddress == "10.0.0.1", "dial address \(snapshot.dialAddress)")
        FuzzCheck.require(!snapshot.certificateSerial.isEmpty, "empty certificate serial")
    } catch {
        FuzzCheck.require(
            error.code == .certificate || error.code == .config, "unexpected error code \(error.code)")
    }
    return 0
}

enum ClientCertificateFixture {
    // Cannot fail: a literal valid URI.
    static let instance = try! InstanceURI("projects/p/locations/r/clusters/c/instances/i")

    static let handle = InstanceHandle(instance: instance)

    /// A throwaway EC P-256 key made for these seeds only; it protects nothing. The seed corpus
    /// holds a certificate for it, so that seeds reach the TLS context and the snapshot.
    static let keyPEM = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDRQjOFdNZq0HpFfs
        5dE67LgFavJilBIDEmnMuTyZurmhRANCAAQf6gvsxqtaZxVOv0M4zw/lqLQ6Bj2Z
        7jZofnWQZQA8wBT0lCYG21QnQlIXzL/t16yah1VCnCEDztgUDocCuJKM
        -----END PRIVATE KEY-----
        """

    // Cannot fail: the literal key above is valid.
    static let key = try! PrivateKey(pem: keyPEM)
}

@_cdecl("fuzz_client_certificate_main")
public func clientCertificateMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, clientCertificateTestOneInput)
}
