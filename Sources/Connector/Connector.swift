import Foundation
import Locking
import Synchronization

/// The connector: owns the refresh thread that keeps each instance's `InstanceSnapshot` fresh.
///
/// All public methods may be called from any thread. Completions run on the refresh thread
/// (or, after `stop()`, on the calling thread); callers re-post them to their own loop. The
/// refresh thread is a Foundation `Thread` that sleeps in `curl_multi_poll` and is woken by
/// `curl_multi_wakeup` when work is queued.
public final class Connector: Sendable {
    /// Called with the outcome of `requestInfo`.
    public typealias Completion = @Sendable (Result<InstanceSnapshot, ConnectorError>) -> Void

    /// A request queued for the refresh thread.
    struct Command: Sendable {
        var handle: InstanceHandle
        var force: Bool
        var completion: Completion
    }

    /// The queue shared with the refresh thread; guarded by `inbox`.
    struct Inbox: Sendable {
        var commands: [Command] = []
        var stopped = false
    }

    /// A reference to the mutex so both threads can share it (a lock is shared by reference).
    final class SharedInbox: Sendable {
        let mutex = Locked(Inbox())
    }

    /// The refresh thread's name (visible in debuggers and `top -H`).
    static let threadName = "alloydb-refresh"

    /// The effective configuration (read-only).
    public let configuration: ConnectorConfiguration
    /// Any thread, under the mutex: commands for the refresh thread and the stop flag.
    private let inbox = SharedInbox()
    /// Any thread: only `wakeup()` is used off the refresh thread.
    private let engine: HTTPEngine
    /// Signalled once when the refresh thread has left its loop.
    private let exited = DispatchSemaphore(value: 0)

    /// Validates the configuration, loads the credentials (files are read now, so a bad file is
    /// a startup error), parses the static connection info file if one is configured, and
    /// starts the refresh thread, which first generates the RSA-2048 key. No Admin API or token
    /// call happens until the first `requestInfo`; the only possible wait is the GCE metadata
    /// server probe (at most about 1 s) when ADC finds no file and `GCE_METADATA_HOST` is unset.
    /// Log lines go to `configuration.logHandler` on the refresh thread.
    public init(configuration: ConnectorConfiguration) throws(ConnectorError) {
        try configuration.validate()
        let source = try CredentialResolver.resolve(configuration)
        let staticInfo = try configuration.staticConnectionInfoPath.map {
            path throws(ConnectorError) in try StaticConnectionInfo.load(path: path)
        }
        self.configuration = configuration
        engine = try HTTPEngine(options: configuration.http)
        let quota = configuration.environment["GOOGLE_CLOUD_QUOTA_PROJECT"].flatMap { $0.isEmpty ? nil : $0 }
        let context = RefreshWorker.Context(
            configuration: configuration, source: source,
            api: AdminAPIClient(
                baseURL: configuration.apiEndpoint, userAgent: configuration.userAgent,
                quotaProject: quota ?? source.quotaProject),
            staticInfo: staticInfo)
        let thread = Thread { [inbox, engine, exited] in
            RefreshWorker(context: context, engine: engine, inbox: inbox).run()
            exited.signal()
        }
        thread.name = Self.threadName
        thread.start()
    }

    /// A handle for `instance` using the configuration's IP type and AUTO_IAM defaults unless
    /// given. `retire` receives replaced snapshots (see `InstanceHandle`).
    public func makeHandle(
        for instance: InstanceURI,
        ipType: IPType? = nil,
        autoIAMAuthN: Bool? = nil,
        retire: @escaping @Sendable (InstanceSnapshot) -> Void = { _ in }
    ) -> InstanceHandle {
        InstanceHandle(
            instance: instance, ipType: ipType ?? configuration.ipType,
            autoIAMAuthN: autoIAMAuthN ?? configuration.autoIAMAuthN, retire: retire)
    }

    /// Asks for a usable snapshot of `handle`'s instance.
    ///
    /// Answers at once with the current snapshot when it is valid (and, with `forceRefresh`,
    /// starts a refresh for later dials). Otherwise the request joins the refresh in flight or
    /// starts one (single-flight per handle). With no valid snapshot and a recent failure the
    /// error is returned rather than waiting out the rate limiter. Any thread.
    public func requestInfo(for handle: InstanceHandle, forceRefresh: Bool, completion: @escaping Completion) {
        let accepted = inbox.mutex.withLock { inbox in
            guard !inbox.stopped else { return false }
            inbox.commands.append(Command(handle: handle, force: forceRefresh, completion: completion))
            return true
        }
        guard accepted else {
            completion(.failure(ConnectorError(
                .closed, "the connector is stopped", instance: handle.instance.shortName)))
            return
        }
        engine.wakeup()
    }

    /// Wakes the refresh thread so it re-reads the clock (tests that move an injected clock).
    func wakeForTesting() {
        engine.wakeup()
    }

    /// Stops the refresh thread: waiting requests fail with `.closed`, transfers in flight are
    /// abandoned, later requests fail at once. Blocks until the thread has exited (normally
    /// milliseconds). Idempotent; any thread (from the refresh thread it does not wait).
    public func stop() {
        let first = inbox.mutex.withLock { inbox in
            defer { inbox.stopped = true }
            return !inbox.stopped
        }
        guard first else { return }
        engine.wakeup()
        // Called from the refresh thread itself (e.g. the last reference dropped inside a
        // completion): the loop exits once this returns, so waiting here would deadlock.
        guard Thread.current.name != Self.threadName else { return }
        exited.wait()
    }

    deinit {
        stop()
    }
}
