import Emulator
import FuzzSupport

/// The emulator's side of the metadata exchange: `MetadataExchange.frame(in:)` on the bytes a
/// client sends after the TLS handshake, then `decodeRequest` on a complete frame.
///
/// Properties: a complete frame lies within the input; a decoded request re-encodes to a
/// frame that decodes to the same request.
@_cdecl("LLVMFuzzerTestOneInput")
public func emulatorMDXTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = FuzzInput(data, size).bytes
    guard case .complete(let length)? = try? MetadataExchange.frame(in: bytes) else { return 0 }
    FuzzCheck.require(4 + length <= bytes.count, "frame of \(length) bytes past the input")
    guard let request = try? MetadataExchange.decodeRequest(bytes[4..<(4 + length)]) else {
        return 0
    }

    let encoded = MetadataExchange.encodeRequest(request)
    guard case .complete(let again)? = try? MetadataExchange.frame(in: encoded) else {
        FuzzCheck.require(false, "an encoded request is not a complete frame")
        return 0
    }
    let decoded = try? MetadataExchange.decodeRequest(encoded[4..<(4 + again)])
    FuzzCheck.require(decoded == request, "re-encoding changed \(request.authType)")
    return 0
}

@_cdecl("fuzz_emulator_mdx_main")
public func emulatorMDXMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, emulatorMDXTestOneInput)
}
