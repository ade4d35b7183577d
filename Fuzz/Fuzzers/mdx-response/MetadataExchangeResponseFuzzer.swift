import Connector
import FuzzSupport

/// `MetadataExchangeDecoder` on the bytes an instance (or anything posing as one) sends after
/// the TLS handshake.
///
/// The first input byte picks a chunk size (0: the whole input at once), the rest is the
/// stream. Properties: feeding in chunks gives exactly the outcome of feeding everything at
/// once (same response, same end position, same error); a finished decoder refuses more bytes;
/// `endOfStream` agrees with the state reached.
@_cdecl("LLVMFuzzerTestOneInput")
public func mdxResponseTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let (control, rest) = FuzzInput(data, size).controlAndRest
    let stream = Array(rest)
    let whole = decode(stream, chunk: stream.count)
    let chunked = decode(stream, chunk: control == 0 ? max(stream.count, 1) : Int(control % 17) + 1)
    FuzzCheck.require(whole == chunked, "whole-input outcome \(whole) differs from chunked \(chunked)")
    return 0
}

/// What feeding `stream` in pieces of `chunk` bytes produced.
enum Outcome: Equatable {
    /// A response, and the stream offset just past it.
    case complete(MetadataExchangeResponse, end: Int)
    case needMore
    case failed(MetadataExchangeError)
}

func decode(_ stream: [UInt8], chunk: Int) -> Outcome {
    var decoder = MetadataExchangeDecoder()
    var offset = 0
    repeat {
        let end = min(offset + max(chunk, 1), stream.count)
        let piece = Array(stream[offset..<end])
        do {
            switch try decoder.feed(piece) {
            case .needMore:
                FuzzCheck.require(end == stream.count || !piece.isEmpty, "no progress")
            case .complete(let response, let consumed):
                FuzzCheck.require(consumed >= 0 && consumed <= piece.count, "consumed \(consumed)")
                FuzzCheck.require(
                    response.error.utf8.count <= MetadataExchangeDecoder.maximumLength,
                    "error text longer than the frame limit")
                FuzzCheck.require((try? decoder.endOfStream()) != nil, "complete but not at end")
                do {
                    _ = try decoder.feed([0])
                    FuzzCheck.require(false, "a complete decoder accepted more bytes")
                } catch {
                    FuzzCheck.require(error.code == .alreadyComplete, "wrong error \(error)")
                }
                return .complete(response, end: offset + consumed)
            }
        } catch {
            FuzzCheck.requirePrintable(error.description, "error text")
            return .failed(error)
        }
        offset = end
    } while offset < stream.count
    do {
        try decoder.endOfStream()
        FuzzCheck.require(false, "an incomplete stream passed endOfStream")
    } catch {
        guard case .truncatedFrame = error.code else {
            FuzzCheck.require(false, "endOfStream threw \(error)")
            return .needMore
        }
    }
    return .needMore
}

@_cdecl("fuzz_mdx_response_main")
public func mdxResponseMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, mdxResponseTestOneInput)
}
