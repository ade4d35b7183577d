/// What a registration wants to hear about. Error and hangup are always reported.
public struct Interest: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Bytes can be read, or a connection can be accepted, or the peer hung up.
    public static let readable = Interest(rawValue: 1 << 0)

    /// The socket buffer has room, or a non-blocking connect finished.
    public static let writable = Interest(rawValue: 1 << 1)

    /// Both directions.
    public static let all: Interest = [.readable, .writable]
}

/// The readiness an `IOHandler` is told about in one callback.
public struct IOEvents: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Bytes (or EOF, or a pending connection) are ready to read.
    public static let readable = IOEvents(rawValue: 1 << 0)

    /// There is room to write, or a non-blocking connect completed (check `finishConnect`).
    public static let writable = IOEvents(rawValue: 1 << 1)

    /// The peer shut down its sending side (EPOLLRDHUP); unread bytes may remain.
    public static let readHangup = IOEvents(rawValue: 1 << 2)

    /// Both directions are closed (EPOLLHUP); unread bytes may remain.
    public static let hangup = IOEvents(rawValue: 1 << 3)

    /// The socket has a pending error (EPOLLERR); read it with `Socket.pendingError()`.
    public static let error = IOEvents(rawValue: 1 << 4)

    public var description: String {
        let names: [(IOEvents, String)] = [
            (.readable, "readable"), (.writable, "writable"), (.readHangup, "readHangup"),
            (.hangup, "hangup"), (.error, "error"),
        ]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
    }
}

/// Receives readiness for one registered descriptor. Called on the loop thread only.
///
/// For one descriptor in one loop turn the loop calls `handle` up to three times, in this
/// order, and skips the later calls if an earlier one deregistered the descriptor:
/// 1. `[.error]` and/or `[.hangup]` if the kernel reported them;
/// 2. `[.writable]` if writable and the interest still includes `.writable`;
/// 3. `[.readable]`, possibly with `.readHangup`, if the interest still includes `.readable`.
///
/// A hangup can arrive while unread bytes remain; a handler that wants them reads until
/// `.eof` before closing.
public protocol IOHandler: AnyObject {
    /// Handles readiness. Must not block; should bound the work done per call (see
    /// `EventLoop.maxReadsPerEvent`).
    func handle(_ events: IOEvents)
}

/// A live registration of a descriptor with one loop: the fd plus a generation number that
/// tells this registration apart from any later one for the same fd number.
public struct Registration: Hashable, Sendable, CustomStringConvertible {
    /// The registered descriptor.
    public let fd: Int32

    /// Unique per registration within a loop; packed with the fd into the kernel's user data.
    public let generation: UInt32

    var packed: UInt64 {
        UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    public var description: String { "fd \(fd) (generation \(generation))" }
}
