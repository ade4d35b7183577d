import CLinuxShims

#if canImport(Glibc)
import Glibc
#endif

/// The one place this module turns raw system-call results into Swift results.
///
/// Contract of every wrapper here: EINTR is retried, EAGAIN/EWOULDBLOCK becomes `.wouldBlock`
/// where the call can block, any other failure throws a `SyscallError` naming the call, and
/// EBADF/EFAULT stop the process because they can only mean a bug in this program (a descriptor
/// used after close, or a bad pointer), never something the network did.
enum Posix {
    /// Runs `body` until it does not fail with EINTR and returns its non-negative result.
    ///
    /// errno is read straight after the call, before anything else can overwrite it.
    @inline(__always)
    static func retrying<T: BinaryInteger>(
        _ call: @autoclosure () -> String,
        _ body: () -> T
    ) throws(SyscallError) -> T {
        while true {
            let result = body()
            if result >= 0 {
                return result
            }
            let code = errno
            if code == EINTR {
                continue
            }
            throw failure(code, call())
        }
    }

    /// Like `retrying`, but reports EAGAIN/EWOULDBLOCK as nil instead of throwing.
    @inline(__always)
    static func nonBlocking<T: BinaryInteger>(
        _ call: @autoclosure () -> String,
        _ body: () -> T
    ) throws(SyscallError) -> T? {
        while true {
            let result = body()
            if result >= 0 {
                return result
            }
            let code = errno
            if code == EINTR {
                continue
            }
            if code == EAGAIN || code == EWOULDBLOCK {
                return nil
            }
            throw failure(code, call())
        }
    }

    /// Builds the error for `code`, stopping the process on errnos that mean our own bug.
    static func failure(_ code: Int32, _ call: String) -> SyscallError {
        let error = SyscallError(errno: code, call: call)
        precondition(code != EBADF && code != EFAULT, "bug in this program: \(error)")
        return error
    }

    /// Closes `fd`. EINTR counts as success: on Linux the descriptor is released either way,
    /// and retrying could close a descriptor another thread just opened.
    static func close(_ fd: Int32) {
        let result = Glibc.close(fd)
        if result < 0 {
            let code = errno
            precondition(code != EBADF, "bug in this program: close(\(fd)) on a closed descriptor")
        }
    }
}

/// epoll, wrapped with the same errno rules as `Posix`.
enum Epoll {
    static let readable = CLinuxShims_EPOLLIN
    static let writable = CLinuxShims_EPOLLOUT
    static let readHangup = CLinuxShims_EPOLLRDHUP
    static let hangup = CLinuxShims_EPOLLHUP
    static let error = CLinuxShims_EPOLLERR

    static func create() throws(SyscallError) -> Int32 {
        try Posix.retrying("epoll_create1") { CLinuxShims_epoll_create1(CLinuxShims_EPOLL_CLOEXEC) }
    }

    static func add(epfd: Int32, fd: Int32, events: UInt32, data: UInt64) throws(SyscallError) {
        _ = try Posix.retrying("epoll_ctl(ADD)") {
            CLinuxShims_epoll_ctl(epfd, CLinuxShims_EPOLL_CTL_ADD, fd, events, data)
        }
    }

    static func modify(epfd: Int32, fd: Int32, events: UInt32, data: UInt64) throws(SyscallError) {
        _ = try Posix.retrying("epoll_ctl(MOD)") {
            CLinuxShims_epoll_ctl(epfd, CLinuxShims_EPOLL_CTL_MOD, fd, events, data)
        }
    }

    static func delete(epfd: Int32, fd: Int32) throws(SyscallError) {
        _ = try Posix.retrying("epoll_ctl(DEL)") {
            CLinuxShims_epoll_ctl(epfd, CLinuxShims_EPOLL_CTL_DEL, fd, 0, 0)
        }
    }

    /// Waits for events. The name is fixed so that profiles show the loop's idle time plainly.
    @inline(never)
    static func epollWaitIdle(
        epfd: Int32,
        events: UnsafeMutablePointer<epoll_event>,
        capacity: Int32,
        timeoutMilliseconds: Int32
    ) throws(SyscallError) -> Int {
        Int(try Posix.retrying("epoll_wait") {
            CLinuxShims_epoll_wait(epfd, events, capacity, timeoutMilliseconds)
        })
    }
}

/// eventfd, the loop's cross-thread doorbell.
enum EventFD {
    static func create() throws(SyscallError) -> Int32 {
        try Posix.retrying("eventfd") {
            CLinuxShims_eventfd(0, CLinuxShims_EFD_CLOEXEC | CLinuxShims_EFD_NONBLOCK)
        }
    }

    /// Adds one to the counter. EAGAIN (counter saturated) still leaves the fd readable, so it
    /// counts as success.
    static func ring(_ fd: Int32) throws(SyscallError) {
        _ = try Posix.nonBlocking("eventfd_write") { CLinuxShims_eventfd_write(fd, 1) }
    }

    /// Resets the counter to zero; returns false when it was already zero.
    @discardableResult
    static func drain(_ fd: Int32) throws(SyscallError) -> Bool {
        var value: UInt64 = 0
        return try Posix.nonBlocking("eventfd_read") { CLinuxShims_eventfd_read(fd, &value) } != nil
    }
}
