import Connector
import EventLoop
import Foundation

/// Settings every tunnel of a proxy shares.
public struct TunnelSettings: Sendable {
    /// Dial, handshake, MDX, explanation and half-close bounds.
    var timeouts = TunnelStateMachine.Timeouts()
    /// The instance's server-side proxy port (5433; overridable for emulators, see
    /// `ProxyEnvironment.instancePortVariable`).
    public var instancePort = 5433
    /// The `user_agent` sent in the metadata exchange.
    public var metadataExchangeUserAgent = "alloydb-go-connector/1.18.5"
    /// Dial only after the client's first byte (PostgreSQL clients always speak first), so
    /// port probes cost no upstream session.
    public var waitForFirstByte = true
    /// Bytes read per socket read: many TLS records per read syscall.
    public var readSize = 256 * 1024
    /// Size of the pooled per-tunnel buffers (plaintext held for the client, early bytes).
    public var bufferSize = 64 * 1024
    /// Most ciphertext queued towards an instance before the client stops being read.
    public var maximumBacklog = 256 * 1024
    /// Most client bytes held while the dial is in progress.
    public var maximumEarlyBytes = 64 * 1024
    /// Reads per readiness event, so one busy tunnel cannot starve the others.
    public var readsPerEvent = 4

    public init() {}

    /// Applies the timeout flags.
    public mutating func apply(_ options: ProxyOptions) {
        timeouts.dial = options.dialTimeout
        timeouts.handshake = options.handshakeTimeout
        timeouts.metadataExchange = options.metadataExchangeTimeout
        timeouts.halfClose = options.halfCloseTimeout
    }
}

/// One served instance: its connector handle and names.
public struct InstanceRoute: Sendable {
    /// The connector's handle (the snapshot source) for this instance.
    public let handle: InstanceHandle
    /// `P.R.C.I`, the log prefix.
    public var shortName: String { handle.instance.shortName }

    public init(handle: InstanceHandle) {
        self.handle = handle
    }
}

/// What all tunnels of one loop share: the loop, logger, counters, buffers and settings.
///
/// Loop thread only. Owned by the `ProxyServer`, which outlives its tunnels; tunnels refer to
/// it without retaining it.
final class TunnelContext {
    let loop: EventLoop
    let logger: ProxyLogger
    let source: any ConnectionInfoSource
    let settings: TunnelSettings
    /// Wall clock for certificate expiry checks; injectable for tests.
    let wallClock: @Sendable () -> Date
    var counters = ProxyCounters()
    /// Pooled per-tunnel buffers, borrowed only while bytes are queued.
    let pool: BufferPool
    /// One read buffer shared by every tunnel: each read's bytes are consumed (fed to TLS or
    /// copied) before the next read, so no tunnel needs its own.
    let scratch: ByteBuffer
    /// Open tunnels by id; the only strong owner besides in-flight loop callbacks.
    var tunnels: [UInt64: Tunnel] = [:]
    private var lastID: UInt64 = 0

    init(
        loop: EventLoop,
        logger: ProxyLogger,
        source: any ConnectionInfoSource,
        settings: TunnelSettings,
        wallClock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.loop = loop
        self.logger = logger
        self.source = source
        self.settings = settings
        self.wallClock = wallClock
        pool = BufferPool(bufferSize: settings.bufferSize, maximumPooled: 256)
        scratch = ByteBuffer(capacity: settings.readSize)
    }

    /// A fresh tunnel id.
    func nextID() -> UInt64 {
        lastID += 1
        return lastID
    }
}
