#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: the errno it set, that errno's text and the name of the call.
///
/// Thrown by every wrapper in this module. EINTR is retried and EAGAIN is reported as
/// `IOResult.wouldBlock` instead, so neither ever appears here.
public struct SyscallError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The errno value the call set (`ECONNREFUSED`, `EMFILE`, ...).
    public let errno: Int32

    /// The name of the failing call, e.g. `"connect"` or `"epoll_ctl(ADD)"`.
    public let call: String

    /// Creates an error for `call` failing with `errno`.
    public init(errno: Int32, call: String) {
        self.errno = errno
        self.call = call
    }

    /// The C library's text for `errno`, e.g. "Connection refused".
    public var message: String {
        String(cString: strerror(errno))
    }

    /// True for the errors that mean the process or system ran out of descriptors or memory
    /// (EMFILE, ENFILE, ENOBUFS, ENOMEM), which a caller should back off from, not fail on.
    public var isResourceExhaustion: Bool {
        errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM
    }

    public var description: String {
        "The system call \(call) failed with errno \(errno): \(message)."
    }
}
