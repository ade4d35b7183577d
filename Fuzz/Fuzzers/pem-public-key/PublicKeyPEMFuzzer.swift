import FuzzSupport
import TLS

/// `PublicKey(pem:)` on arbitrary text (the `publicKey` of a certificate request the emulator
/// receives).
///
/// Properties: a loaded key survives a round trip through both PEM forms it can write, and
/// its SPKI DER is stable.
@_cdecl("LLVMFuzzerTestOneInput")
public func publicKeyPEMTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = FuzzInput(data, size).text
    guard let key = try? PublicKey(pem: text) else { return 0 }

    for format in [PublicKeyFormat.spki, .pkcs1] {
        let again = try? PublicKey(pem: key.pem(format))
        FuzzCheck.require(again == key, "the key does not survive its \(format) PEM")
        FuzzCheck.require(again?.spkiDER == key.spkiDER, "the SPKI DER changed in a round trip")
    }
    _ = key.verifySHA256(signature: Array(text.utf8.prefix(64)), data: [1, 2, 3])
    return 0
}

@_cdecl("fuzz_pem_public_key_main")
public func publicKeyPEMMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, publicKeyPEMTestOneInput)
}
