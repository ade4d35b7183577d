import EventLoop

/// The proxy's one shutdown path, for SIGINT, SIGTERM and `/quitquitquit` alike.
///
/// 1. The first request logs its reason, turns readiness to 503 and tells systemd STOPPING=1
///    (`markDraining`); listeners keep accepting for `--min-sigterm-delay`.
/// 2. Then listeners close. With `--max-sigterm-delay` and open tunnels, the proxy polls every
///    100 ms until they are gone (exit with the reason's code) or the delay passes (ERROR
///    `N connection(s) still open after waiting <d>`, exit 1). Without it the proxy exits and
///    open tunnels die with the process, as in the reference.
/// 3. A second signal at any point exits at once with that signal's code. A second
///    `/quitquitquit` is ignored.
///
/// Exit codes: SIGINT 130, SIGTERM 143 (0 with `--exit-zero-sigterm`), `/quitquitquit` 0.
/// A value type driven by the loop thread; time arrives with the events, so it is tested
/// without sockets or sleeps.
struct ShutdownStateMachine {
    /// What asked the proxy to stop.
    enum Reason: Equatable {
        case interrupt
        case terminate
        case quitquitquit
    }

    enum State: Equatable {
        case serving
        /// Listeners still accept until the minimum delay has passed.
        case delaying(code: Int32)
        /// Listeners are closed; waiting for open tunnels until `deadline`.
        case draining(code: Int32, deadline: LoopInstant)
        case exited(code: Int32)
    }

    enum Event: Equatable {
        case requested(Reason, openTunnels: Int)
        case minimumDelayElapsed(openTunnels: Int)
        /// The 100 ms poll while draining.
        case poll(openTunnels: Int)
    }

    enum Action: Equatable {
        case logInfo(String)
        case logError(String)
        /// Readiness 503 and systemd STOPPING=1.
        case markDraining
        /// Run `minimumDelayElapsed` after this long.
        case scheduleMinimumDelay(Duration)
        case closeListeners
        /// Deliver `poll` every 100 ms until exit.
        case startPolling
        case exit(Int32)
    }

    struct Settings: Equatable {
        var minimumDelay: Duration = .zero
        var maximumDelay: Duration = .zero
        var exitZeroOnTerminate = false
    }

    let settings: Settings
    private(set) var state: State = .serving

    init(settings: Settings) {
        self.settings = settings
    }

    /// Feeds one event; returns the actions to perform in order.
    mutating func handle(_ event: Event, now: LoopInstant) -> [Action] {
        switch (state, event) {
        case (.serving, .requested(let reason, let open)):
            let code = exitCode(for: reason)
            var actions: [Action] = [.logInfo(Self.announcement(reason)), .markDraining]
            if settings.minimumDelay > .zero {
                state = .delaying(code: code)
                actions.append(.scheduleMinimumDelay(settings.minimumDelay))
                return actions
            }
            return actions + closeAndDrain(code: code, openTunnels: open, now: now)

        case (.delaying, .requested(let reason, _)), (.draining, .requested(let reason, _)):
            guard reason != .quitquitquit else { return [] }
            let code = exitCode(for: reason)
            state = .exited(code: code)
            return [.logInfo("second signal received, exiting immediately"), .exit(code)]

        case (.delaying(let code), .minimumDelayElapsed(let open)):
            return closeAndDrain(code: code, openTunnels: open, now: now)

        case (.draining(let code, let deadline), .poll(let open)):
            if open == 0 {
                state = .exited(code: code)
                return [.exit(code)]
            }
            guard now >= deadline else { return [] }
            state = .exited(code: 1)
            let waited = GoDuration.format(settings.maximumDelay)
            return [.logError("\(open) connection(s) still open after waiting \(waited)"), .exit(1)]

        default:
            return []
        }
    }

    private mutating func closeAndDrain(code: Int32, openTunnels: Int, now: LoopInstant) -> [Action] {
        guard settings.maximumDelay > .zero, openTunnels > 0 else {
            state = .exited(code: code)
            return [.closeListeners, .exit(code)]
        }
        state = .draining(code: code, deadline: now.advanced(by: settings.maximumDelay))
        return [.closeListeners, .startPolling]
    }

    private func exitCode(for reason: Reason) -> Int32 {
        switch reason {
        case .interrupt: return 130
        case .terminate: return settings.exitZeroOnTerminate ? 0 : 143
        case .quitquitquit: return 0
        }
    }

    /// The reference's log line for each reason.
    static func announcement(_ reason: Reason) -> String {
        switch reason {
        case .interrupt: return "SIGINT signal received. Shutting down..."
        case .terminate: return "SIGTERM signal received. Shutting down..."
        case .quitquitquit: return "/quitquitquit received request. Shutting down..."
        }
    }
}
