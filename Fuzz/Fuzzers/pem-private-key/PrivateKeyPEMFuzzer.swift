import FuzzSupport
import TLS

/// `PrivateKey(pem:)` on arbitrary text (the `private_key` of a service-account file).
///
/// Properties: a loaded key survives a round trip through its own PKCS#8 PEM with the same
/// public half; for keys up to 2048 bits a signature verifies with the public half; the
/// description never contains key material.
@_cdecl("LLVMFuzzerTestOneInput")
public func privateKeyPEMTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = FuzzInput(data, size).text
    guard let key = try? PrivateKey(pem: text) else { return 0 }

    let pem = key.pem()
    FuzzCheck.require(!key.description.contains("BEGIN"), "the description shows key material")
    let again = try? PrivateKey(pem: pem)
    FuzzCheck.require(again != nil, "the key does not load from its own PEM")
    FuzzCheck.require(again?.publicKey == key.publicKey, "the public half changed in a round trip")
    FuzzCheck.require(again?.bits == key.bits, "the size changed in a round trip")

    // Bigger keys are valid but make each input slow; their signing path is the same.
    guard key.bits <= 2048 else { return 0 }
    let message = Array(text.utf8.prefix(64))
    if let signature = try? key.signSHA256(message) {
        FuzzCheck.require(
            key.publicKey.verifySHA256(signature: signature, data: message),
            "a signature does not verify with the key's own public half")
    }
    return 0
}

@_cdecl("fuzz_pem_private_key_main")
public func privateKeyPEMMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, privateKeyPEMTestOneInput)
}
