import COpenSSLShims

/// The two ciphertext queues a `TLSConnection` exchanges with OpenSSL through its BIO.
///
/// OpenSSL reads the peer's records from `inbound` and appends its own to `outbound`, one copy
/// each way, with no memory BIO in between. Not Sendable: one connection, one thread.
final class TransportQueues {
    /// Ciphertext from the network, waiting for OpenSSL.
    let inbound = CiphertextQueue()
    /// Ciphertext from OpenSSL, waiting for the network.
    let outbound = CiphertextQueue()
    /// The transport reached end of file: an empty `inbound` then means EOF, not "retry".
    var inboundEnded = false
}

/// A source/sink BIO over a `TransportQueues`, shared by every connection in the process.
///
/// The BIO's data pointer is the queues object, unretained: the owning `TLSConnection` keeps
/// the queues alive for as long as its `SSL` (which owns the BIO) exists.
enum TransportBIO {
    /// Creates a BIO reading from and writing to `queues`; the caller hands it to `SSL_set_bio`.
    static func make(_ queues: TransportQueues) -> OpaquePointer? {
        guard let method = methodBox.method, let bio = BIO_new(method) else { return nil }
        BIO_set_data(bio, Unmanaged.passUnretained(queues).toOpaque())
        BIO_set_init(bio, 1)
        return bio
    }

    /// Holds the immutable method table.
    ///
    /// `@unchecked Sendable`: the BIO_METHOD is fully configured before it is published and
    /// only read afterwards; OpenSSL reads method tables from any thread.
    private final class MethodBox: @unchecked Sendable {
        let method: OpaquePointer?

        init() {
            let type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK
            guard let method = BIO_meth_new(type, "tls transport queues") else {
                self.method = nil
                return
            }
            _ = BIO_meth_set_write_ex(method, transportWrite)
            _ = BIO_meth_set_read_ex(method, transportRead)
            _ = BIO_meth_set_ctrl(method, transportControl)
            self.method = method
        }
    }

    private static let methodBox = MethodBox()

    fileprivate static func queues(_ bio: OpaquePointer?) -> TransportQueues? {
        guard let bio, let data = BIO_get_data(bio) else { return nil }
        return Unmanaged<TransportQueues>.fromOpaque(data).takeUnretainedValue()
    }
}

/// OpenSSL's write: append to the outbound queue (never blocks, never partial).
private func transportWrite(
    _ bio: OpaquePointer?, _ data: UnsafePointer<CChar>?, _ length: Int,
    _ written: UnsafeMutablePointer<Int>?
) -> Int32 {
    BIO_clear_flags(bio, BIO_FLAGS_READ | BIO_FLAGS_WRITE | BIO_FLAGS_IO_SPECIAL | BIO_FLAGS_SHOULD_RETRY)
    guard let queues = TransportBIO.queues(bio), let data else { return 0 }
    queues.outbound.append(UnsafeRawPointer(data), length)
    written?.pointee = length
    return 1
}

/// OpenSSL's read: take from the inbound queue; empty means "retry" until the transport ended.
private func transportRead(
    _ bio: OpaquePointer?, _ data: UnsafeMutablePointer<CChar>?, _ length: Int,
    _ read: UnsafeMutablePointer<Int>?
) -> Int32 {
    BIO_clear_flags(bio, BIO_FLAGS_READ | BIO_FLAGS_WRITE | BIO_FLAGS_IO_SPECIAL | BIO_FLAGS_SHOULD_RETRY)
    guard let queues = TransportBIO.queues(bio), let data else { return 0 }
    let taken = queues.inbound.take(into: UnsafeMutableRawPointer(data), length)
    if taken == 0 {
        if !queues.inboundEnded {
            BIO_set_flags(bio, BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY)
        }
        read?.pointee = 0
        return 0
    }
    read?.pointee = taken
    return 1
}

/// The controls OpenSSL's record layer asks about.
private func transportControl(
    _ bio: OpaquePointer?, _ command: Int32, _ argument: Int, _ pointer: UnsafeMutableRawPointer?
) -> Int {
    guard let queues = TransportBIO.queues(bio) else { return 0 }
    switch command {
    case BIO_CTRL_FLUSH:
        return 1
    case BIO_CTRL_PENDING:
        return queues.inbound.count
    case BIO_CTRL_WPENDING:
        return queues.outbound.count
    case BIO_CTRL_EOF:
        return queues.inboundEnded && queues.inbound.isEmpty ? 1 : 0
    default:
        return 0
    }
}
