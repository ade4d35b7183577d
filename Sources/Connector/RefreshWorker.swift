import Foundation
import Synchronization
import TLS

/// The refresh thread's state and loop. Created on, and used only by, the refresh thread.
///
/// Loop: take queued commands → feed due schedules → advance HTTP transfers (completions run
/// here) → sleep in `curl_multi_poll` until the next schedule, a transfer event or a wakeup.
final class RefreshWorker {
    /// Immutable inputs, built by `Connector.init`.
    struct Context: Sendable {
        var configuration: ConnectorConfiguration
        var source: any TokenSource
        var api: AdminAPIClient
        /// `--static-connection-info`: answers instead of the Admin API, never refreshed.
        var staticInfo: StaticConnectionInfo?
    }

    /// One instance's schedule and the callers waiting for its refresh.
    final class Record {
        let handle: InstanceHandle
        var state: RefreshState
        var waiters: [Connector.Completion] = []
        /// When the last refresh-failure warning was logged (rate limit).
        var lastWarning: Date?
        /// Failures not warned about since `lastWarning`.
        var quietFailures = 0
        /// The short-lifetime warning is given once per instance.
        var warnedShortLifetime = false
        /// The "no valid client certificate" error was logged since the last success (once per
        /// outage, not once per failed attempt).
        var reportedNoValidCertificate = false
        /// A caller forced a refresh (after a failed dial): the next one fetches a new
        /// certificate and connection info even if only the MDX token is due.
        var fullRefreshRequested = false

        init(handle: InstanceHandle, state: RefreshState) {
            self.handle = handle
            self.state = state
        }
    }

    /// Longest sleep without a scheduled event, so a stuck wakeup cannot stall the loop.
    private static let idlePoll: TimeInterval = 5

    private let context: Context
    private let engine: HTTPEngine
    private let inbox: Connector.SharedInbox
    private let clock: ConnectorClock
    private let apiTokens: TokenCache
    private let loginTokens: TokenCache
    private var records: [InstanceHandle: Record] = [:]
    private var key: Result<PrivateKey, ConnectorError>?

    init(context: Context, engine: HTTPEngine, inbox: Connector.SharedInbox) {
        self.context = context
        self.engine = engine
        self.inbox = inbox
        clock = context.configuration.clock
        apiTokens = TokenCache(source: context.source, scopes: [OAuthScope.cloudPlatform])
        loginTokens = TokenCache(source: context.source, scopes: [OAuthScope.alloyDBLogin])
    }

    /// Runs until the connector is stopped.
    func run() {
        key = Result { () throws(ConnectorError) -> PrivateKey in
            do { return try PrivateKey.generateRSA(bits: 2048) } catch {
                throw ConnectorError(.certificate, "could not generate the RSA key: \(error)")
            }
        }
        while true {
            let (commands, stopped) = inbox.mutex.withLock { inbox in
                defer { inbox.commands.removeAll() }
                return (inbox.commands, inbox.stopped)
            }
            if stopped { break }
            for command in commands { handle(command) }
            fireDueSchedules()
            engine.perform()
            engine.poll(timeout: sleepTime())
            engine.perform()
        }
        shutDown()
    }

    private func handle(_ command: Connector.Command) {
        let record = self.record(for: command.handle)
        if command.force {
            record.fullRefreshRequested = true
            log(.debug, "[\(record.handle.instance.shortName)] refresh requested after a failed dial")
        }
        let action = record.state.handle(.requested(force: command.force), now: clock.now())
        answer(action.answer, to: [command.completion], of: record)
        if action.startRefresh { startRefresh(record) }
    }

    private func record(for handle: InstanceHandle) -> Record {
        if let record = records[handle] { return record }
        let configuration = context.configuration
        // Static info is never refreshed on a timer; only the MDX token may need renewing, on demand.
        let mode: RefreshState.Mode = configuration.lazyRefresh || context.staticInfo != nil ? .lazy : .ahead
        let state = RefreshState(
            mode: mode, buffer: configuration.refreshBuffer,
            limiter: RateLimiter(interval: configuration.rateLimitInterval))
        let record = Record(handle: handle, state: state)
        records[handle] = record
        return record
    }

    private func fireDueSchedules() {
        let now = clock.now()
        for record in records.values {
            guard let due = record.state.nextAttempt, due <= now else { continue }
            if record.state.handle(.due, now: now).startRefresh { startRefresh(record) }
        }
    }

    private func sleepTime() -> TimeInterval {
        let now = clock.now()
        let next = records.values.compactMap(\.state.nextAttempt).min()
        return next.map { max(0, min($0.timeIntervalSince(now), Self.idlePoll)) } ?? Self.idlePoll
    }

    /// Delivers `answer` to `completions`; `.wait` queues them on the record.
    private func answer(_ answer: RefreshState.Answer, to completions: [Connector.Completion], of record: Record) {
        switch answer {
        case .none:
            return
        case .wait:
            record.waiters.append(contentsOf: completions)
        case .current:
            guard let snapshot = record.handle.current else {
                let error = ConnectorError(
                    .refresh, "no snapshot published", instance: record.handle.instance.shortName)
                for completion in completions { completion(.failure(error)) }
                return
            }
            for completion in completions { completion(.success(snapshot)) }
        case .error(let error):
            for completion in completions { completion(.failure(error)) }
        }
    }

    /// Runs one refresh: API token → (both Admin API calls ∥ MDX token) → PSC lookup →
    /// snapshot → publish. With static connection info only the MDX token is fetched.
    private func startRefresh(_ record: Record) {
        let handle = record.handle
        log(.debug, "[\(handle.instance.shortName)] refreshing connection info")
        if let staticInfo = context.staticInfo {
            refreshStatic(record, staticInfo)
            return
        }
        guard case .success(let key) = key ?? .failure(ConnectorError(.certificate, "no RSA key")) else {
            if case .failure(let error) = key { finish(record, .failure(error.naming(handle.instance))) }
            return
        }
        let forced = record.fullRefreshRequested
        record.fullRefreshRequested = false
        let certificateDue = context.configuration.refreshBuffer
        if !forced, let current = handle.current, clock.now() < current.expiration.addingTimeInterval(-certificateDue) {
            renewToken(record, current)
            return
        }
        apiTokens.token(now: clock.now(), engine: engine) { [self] tokenResult in
            switch tokenResult {
            case .failure(let error):
                finish(record, .failure(error.naming(handle.instance)))
            case .success(let token):
                fetch(record, apiToken: token, key: key)
            }
        }
    }

    /// Only the MDX token is due (it expires before the certificate): fetch a new one and
    /// republish the snapshot with the same certificate, addresses and TLS context, so short
    /// tokens do not cost a certificate each.
    private func renewToken(_ record: Record, _ current: InstanceSnapshot) {
        let handle = record.handle
        log(.debug, "[\(handle.instance.shortName)] renewing the metadata exchange token; the certificate stays")
        standaloneLoginToken(for: handle) { [self] result in
            switch result {
            case .success(let login): finish(record, .success(current.replacingMDXToken(login)))
            case .failure(let error): finish(record, .failure(error.naming(handle.instance)))
            }
        }
    }

    /// The MDX token when no Admin API call is made in the same refresh.
    private func standaloneLoginToken(
        for handle: InstanceHandle,
        completion: @escaping (Result<AccessToken, ConnectorError>) -> Void
    ) {
        if context.source.reusesAPITokenForLogin && !(handle.autoIAMAuthN && context.configuration.loginToken != nil) {
            apiTokens.token(now: clock.now(), engine: engine, completion: completion)
        } else {
            mdxToken(for: handle, apiToken: AccessToken(value: "", expiry: nil), completion: completion)
        }
    }

    private func refreshStatic(_ record: Record, _ staticInfo: StaticConnectionInfo) {
        let handle = record.handle
        let api: AdminAPIResult
        do {
            api = try staticInfo.entry(for: handle.instance)
        } catch {
            finish(record, .failure(error))
            return
        }
        let build = { [self] (login: AccessToken) in
            resolveAndBuild(record, api: api, key: staticInfo.privateKey, login: login)
        }
        let deliver = { [self] (result: Result<AccessToken, ConnectorError>) in
            switch result {
            case .success(let login): build(login)
            case .failure(let error): finish(record, .failure(error.naming(handle.instance)))
            }
        }
        standaloneLoginToken(for: handle, completion: deliver)
    }

    private func fetch(_ record: Record, apiToken: AccessToken, key: PrivateKey) {
        let handle = record.handle
        var api: Result<AdminAPIResult, ConnectorError>?
        var login: Result<AccessToken, ConnectorError>?
        let join = { [self] in
            guard let api, let login else { return }
            switch (api, login) {
            case (.success(let api), .success(let login)):
                resolveAndBuild(record, api: api, key: key, login: login)
            case (.failure(let error), _), (_, .failure(let error)):
                finish(record, .failure(error.naming(handle.instance)))
            }
        }
        context.api.fetch(
            instance: handle.instance, token: apiToken.value,
            publicKeyPEM: key.publicKey.pem(.pkcs1), engine: engine
        ) { result in
            api = result
            join()
        }
        mdxToken(for: handle, apiToken: apiToken) { result in
            login = result
            join()
        }
    }

    /// Builds the snapshot; for PSC the DNS name is first resolved on a helper thread (the
    /// lookup blocks), so neither this thread's transfers nor the proxy's loop wait on DNS.
    private func resolveAndBuild(_ record: Record, api: AdminAPIResult, key: PrivateKey, login: AccessToken) {
        let handle = record.handle
        let build = { [self] (resolvedIP: String?) in
            finish(record, Result { () throws(ConnectorError) in
                try SnapshotBuilder.build(handle: handle, api: api, key: key, mdxToken: login, resolvedIP: resolvedIP)
            })
        }
        guard handle.ipType == .psc else { return build(nil) }
        let name: String
        do {
            name = try SnapshotBuilder.addresses(handle: handle, info: api.connectionInfo).dialAddress
        } catch {
            return finish(record, .failure(error))
        }
        let lookup = context.configuration.hostLookup
        engine.runBlocking("psc-lookup", { lookup(name) }) { [self] result in
            switch result {
            case .success(let ip):
                log(.debug, "[\(handle.instance.shortName)] resolved \(name) to \(ip)")
                build(ip)
            case .failure(let error):
                finish(record, .failure(error.naming(handle.instance)))
            }
        }
    }

    /// The metadata exchange token: `--login-token` for AUTO_IAM instances when given, the API
    /// token for static sources, else an alloydb.login-scoped token from the same source.
    private func mdxToken(
        for handle: InstanceHandle,
        apiToken: AccessToken,
        completion: @escaping (Result<AccessToken, ConnectorError>) -> Void
    ) {
        if handle.autoIAMAuthN, let fixed = context.configuration.loginToken {
            completion(.success(AccessToken(value: fixed, expiry: nil)))
        } else if context.source.reusesAPITokenForLogin {
            completion(.success(apiToken))
        } else {
            loginTokens.token(
                now: clock.now(), minimumValidity: RefreshTiming.snapshotTokenMinimumValidity,
                engine: engine, completion: completion)
        }
    }

    private func finish(_ record: Record, _ result: Result<InstanceSnapshot, ConnectorError>) {
        let now = clock.now()
        let action: RefreshState.Action
        switch result {
        case .success(let snapshot):
            record.handle.publish(snapshot)
            action = record.state.handle(.succeeded(expiration: snapshot.effectiveExpiration), now: now)
            succeeded(record, snapshot, now: now)
            report(.refreshSucceeded(
                instance: record.handle.instance, certificateExpiry: snapshot.effectiveExpiration))
        case .failure(let error):
            action = record.state.handle(.failed(error), now: now)
            failed(record, error, now: now)
            report(.refreshFailed(
                instance: record.handle.instance, error: error, certificateValid: record.state.hasValid(now)))
        }
        let waiters = record.waiters
        record.waiters = []
        answer(action.answer, to: waiters, of: record)
    }

    private func succeeded(_ record: Record, _ snapshot: InstanceSnapshot, now: Date) {
        let name = record.handle.instance.shortName
        if record.lastWarning != nil || record.quietFailures > 0 {
            log(.info, "[\(name)] connection info refreshed again after earlier failures")
        }
        record.lastWarning = nil
        record.quietFailures = 0
        record.reportedNoValidCertificate = false
        let lifetime = snapshot.expiration.timeIntervalSince(now)
        let buffer = context.configuration.refreshBuffer
        if lifetime < buffer && context.staticInfo == nil && !record.warnedShortLifetime {
            record.warnedShortLifetime = true
            log(.warning, "[\(name)] the client certificate lifetime (\(Int(lifetime)) s) is shorter than the "
                + "refresh buffer (\(Int(buffer)) s); refreshing as often as the rate limit allows")
        }
        let next = record.state.nextAttempt.map { "; next refresh at \($0)" } ?? ""
        log(.debug, "[\(name)] connection info refreshed: certificate serial \(snapshot.certificateSerial) "
            + "valid until \(snapshot.expiration)\(next)")
    }

    /// Logs a failure as a warning at most once per `failureWarningInterval` per instance; the
    /// others go to debug and are counted in the next warning. The first failure that leaves no
    /// valid certificate is an error instead, once per outage: from then on new connections fail.
    private func failed(_ record: Record, _ error: ConnectorError, now: Date) {
        let state = record.state
        var retries = ""
        if state.retriesStopped {
            retries = "; background retries stop until a connection asks again"
        } else if let next = state.nextAttempt {
            retries = "; next attempt at \(next)"
        }
        let quiet = record.quietFailures
        let quietNote = quiet > 0 ? " [\(quiet) similar failure(s) not shown]" : ""
        if !state.hasValid(now) && !record.reportedNoValidCertificate {
            record.reportedNoValidCertificate = true
            record.lastWarning = now
            record.quietFailures = 0
            let cause = RefreshState.noValidCertificate(error.naming(record.handle.instance))
            log(.error, "\(cause) (new connections fail until a refresh succeeds\(retries))\(quietNote)")
            return
        }
        var consequence: String
        if let current = record.handle.current, state.hasValid(now) {
            consequence = "keeping the current certificate, valid until \(current.effectiveExpiration)"
        } else {
            consequence = "no valid certificate: new connections fail until a refresh succeeds"
        }
        consequence += retries
        let line = "\(error.description.hasPrefix("[") ? "" : "[\(record.handle.instance.shortName)] ")"
            + "refresh failed: \(error) (\(consequence))"
        let interval = context.configuration.failureWarningInterval
        if let last = record.lastWarning, now.timeIntervalSince(last) < interval, now >= last {
            record.quietFailures += 1
            log(.debug, line)
            return
        }
        record.lastWarning = now
        record.quietFailures = 0
        log(.warning, line + quietNote)
    }

    private func report(_ event: ConnectorEvent) {
        context.configuration.eventHandler?(event)
    }

    private func log(_ level: ConnectorLogLevel, _ message: @autoclosure () -> String) {
        guard let handler = context.configuration.logHandler else { return }
        handler(level, message())
    }

    private func shutDown() {
        let leftovers = inbox.mutex.withLock { inbox in
            defer { inbox.commands.removeAll() }
            return inbox.commands
        }
        var waiting = leftovers.map { ($0.handle, $0.completion) }
        for record in records.values {
            waiting += record.waiters.map { (record.handle, $0) }
            record.waiters = []
        }
        for (handle, completion) in waiting {
            completion(.failure(ConnectorError(
                .closed, "the connector is stopped", instance: handle.instance.shortName)))
        }
        records.removeAll()
    }
}
