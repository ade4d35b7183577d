import CCurlShims
import Foundation
import Locking
import Synchronization

/// Runs HTTP transfers concurrently on one libcurl multi handle, so that a slow or hung host
/// delays only its own transfers.
///
/// Threading: everything except `wakeup()` must be called from the one thread that drives the
/// engine (the refresh thread, or a test calling `runUntilIdle`). Completions run on that thread
/// from inside `perform()`. `wakeup()` may be called from any thread (libcurl documents
/// `curl_multi_wakeup` as thread-safe) and interrupts a `poll`.
// @unchecked Sendable: only `wakeup()` is used across threads, and it is thread-safe in libcurl;
// the multi handle lives until deinit, so it outlives every caller holding the engine.
final class HTTPEngine: @unchecked Sendable {
    typealias Completion = (Result<HTTPResponse, ConnectorError>) -> Void

    private let multi: UnsafeMutableRawPointer
    private let options: HTTPOptions
    /// Transfers in flight, keyed by their easy handle. Driving thread only.
    private var transfers: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    /// Completions of blocking jobs running on helper threads, by job number. Driving thread only.
    private var jobCompletions: [Int: (any Sendable) -> Void] = [:]
    private var nextJob = 0
    /// Results posted by helper threads, collected by `perform()`. Any thread, under the mutex.
    private let finishedJobs = Locked<[(job: Int, result: any Sendable)]>([])

    /// Creates the multi handle; throws if libcurl cannot be initialised.
    init(options: HTTPOptions) throws(ConnectorError) {
        guard CCurlShims_global_init_once() == CURLE_OK, let multi = curl_multi_init() else {
            throw ConnectorError(.config, "libcurl could not be initialised")
        }
        self.multi = multi
        self.options = options
    }

    deinit {
        for (easy, transfer) in transfers {
            curl_multi_remove_handle(multi, easy)
            transfer.close()
        }
        curl_multi_cleanup(multi)
    }

    /// Number of transfers and blocking jobs still running.
    var activeCount: Int { transfers.count + jobCompletions.count }

    /// Runs blocking `work` (a DNS lookup, a child process) on a short-lived helper thread
    /// named `name`; `completion` later runs on the driving thread from `perform()`. Driving
    /// thread only. The job cannot be cancelled: after `stop` its result is dropped.
    func runBlocking<T: Sendable>(
        _ name: String,
        _ work: @escaping @Sendable () -> T,
        completion: @escaping (T) -> Void
    ) {
        let job = nextJob
        nextJob += 1
        jobCompletions[job] = { value in
            guard let value = value as? T else { return }
            completion(value)
        }
        let thread = Thread { [self] in
            let result = work()
            finishedJobs.withLock { $0.append((job, result)) }
            wakeup()
        }
        thread.name = name
        thread.start()
    }

    /// Starts `request`; `completion` runs later from `perform()` exactly once (immediately,
    /// before returning, if the request cannot even be set up).
    func start(_ request: HTTPRequest, completion: @escaping Completion) {
        let transfer: CurlTransfer
        do {
            transfer = try CurlTransfer(request: request, options: options, completion: completion)
        } catch {
            completion(.failure(error))
            return
        }
        guard curl_multi_add_handle(multi, transfer.easy) == CURLM_OK else {
            transfer.close()
            completion(.failure(ConnectorError(.refresh, "libcurl refused a new transfer")))
            return
        }
        transfers[transfer.easy] = transfer
    }

    /// Advances all transfers without blocking and runs the completions of finished ones.
    func perform() {
        var running: Int32 = 0
        _ = curl_multi_perform(multi, &running)
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi, &queued) {
            guard CCurlShims_msg_is_done(message) != 0, let easy = CCurlShims_msg_easy(message) else {
                continue
            }
            let code = CCurlShims_msg_result(message)
            curl_multi_remove_handle(multi, easy)
            guard let transfer = transfers.removeValue(forKey: easy) else { continue }
            transfer.finish(code: code)
        }
        let finished = finishedJobs.withLock { jobs in
            defer { jobs.removeAll() }
            return jobs
        }
        for (job, result) in finished {
            jobCompletions.removeValue(forKey: job)?(result)
        }
    }

    /// Blocks until a transfer has activity, `wakeup()` is called, or `timeout` passes.
    func poll(timeout: TimeInterval) {
        let millis = Int32(max(0, min(timeout, 60)) * 1000)
        var ready: Int32 = 0
        _ = curl_multi_poll(multi, nil, 0, millis, &ready)
    }

    /// Interrupts a blocking `poll` (any thread).
    func wakeup() {
        _ = curl_multi_wakeup(multi)
    }

    /// Drives the engine until no transfer is left. For tests and one-shot tools.
    func runUntilIdle() {
        perform()
        while activeCount > 0 {
            poll(timeout: 0.1)
            perform()
        }
    }
}
