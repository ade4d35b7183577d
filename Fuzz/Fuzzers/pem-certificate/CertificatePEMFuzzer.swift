import FuzzSupport
import TLS

/// `Certificate(pem:)` and `Certificate.chain(fromPEM:)` on arbitrary text (Admin API
/// answers, files), plus every accessor a refresh or a log line reads.
///
/// Properties: a parsed chain starts with the certificate `Certificate(pem:)` returns; a
/// certificate survives a round trip through its own PEM; its public key is re-readable.
@_cdecl("LLVMFuzzerTestOneInput")
public func certificatePEMTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = FuzzInput(data, size).text
    let single = try? Certificate(pem: text)
    if let single { inspect(single) }

    guard let chain = try? Certificate.chain(fromPEM: text) else { return 0 }
    FuzzCheck.require(!chain.isEmpty, "an empty chain parsed")
    FuzzCheck.require(single == chain[0], "the chain does not start with the first certificate")
    for certificate in chain { inspect(certificate) }
    if chain.count > 1 { _ = chain[0].isIssued(by: chain[1]) }
    return 0
}

/// Reads every accessor and checks the PEM round trip.
func inspect(_ certificate: Certificate) {
    _ = (certificate.notBefore, certificate.notAfter, certificate.serialNumberHex)
    _ = (certificate.subjectCommonName, certificate.issuerCommonName)
    _ = (certificate.ipAddresses, certificate.dnsNames, certificate.description)
    let again = try? Certificate(pem: certificate.pem)
    FuzzCheck.require(again == certificate, "the certificate does not survive its own PEM")
    FuzzCheck.require(again?.der == certificate.der, "the DER changed in a round trip")
    let key = certificate.publicKey
    FuzzCheck.require(
        (try? PublicKey(pem: key.pem(.spki))) == key, "the subject key does not survive its PEM")
}

@_cdecl("fuzz_pem_certificate_main")
public func certificatePEMMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, certificatePEMTestOneInput)
}
