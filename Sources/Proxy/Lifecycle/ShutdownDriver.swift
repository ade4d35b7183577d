import EventLoop

/// Performs the `ShutdownStateMachine`'s actions on the loop: logs, readiness, systemd,
/// listeners, the 100 ms drain poll and stopping the loop with the exit code.
///
/// Loop thread only. Other threads reach it through `LoopBound` and the loop's executor.
final class ShutdownDriver {
    private var machine: ShutdownStateMachine
    private let loop: EventLoop
    private let server: ProxyServer
    private let status: ProxyStatus
    private let notifier: SystemdNotifier
    private let logger: ProxyLogger
    private var minimumDelayTimer: TimerHandle?

    /// The code `run` should return once the loop has stopped; nil while serving.
    private(set) var exitCode: Int32?

    init(
        settings: ShutdownStateMachine.Settings,
        loop: EventLoop,
        server: ProxyServer,
        status: ProxyStatus,
        notifier: SystemdNotifier,
        logger: ProxyLogger
    ) {
        machine = ShutdownStateMachine(settings: settings)
        self.loop = loop
        self.server = server
        self.status = status
        self.notifier = notifier
        self.logger = logger
    }

    /// A signal or `/quitquitquit` arrived.
    func request(_ reason: ShutdownStateMachine.Reason) {
        feed(.requested(reason, openTunnels: server.openTunnels))
    }

    private func feed(_ event: ShutdownStateMachine.Event) {
        for action in machine.handle(event, now: loop.clock.now()) {
            perform(action)
        }
    }

    private func perform(_ action: ShutdownStateMachine.Action) {
        switch action {
        case .logInfo(let message):
            logger.info(message)
        case .logError(let message):
            logger.error(message)
        case .markDraining:
            status.markDraining()
            if let problem = notifier.notify("STOPPING=1") {
                logger.warning("could not notify systemd: \(problem)")
            }
        case .scheduleMinimumDelay(let delay):
            minimumDelayTimer = loop.schedule(after: delay) { [weak self] in
                guard let self else { return }
                self.feed(.minimumDelayElapsed(openTunnels: self.server.openTunnels))
            }
        case .closeListeners:
            server.closeListeners()
        case .startPolling:
            poll()
        case .exit(let code):
            exitCode = code
            if let minimumDelayTimer {
                _ = loop.cancel(minimumDelayTimer)
            }
            loop.stop()
        }
    }

    /// The reference polls the open count every 100 ms while draining.
    private func poll() {
        _ = loop.schedule(after: .milliseconds(100)) { [weak self] in
            guard let self, self.exitCode == nil else { return }
            self.feed(.poll(openTunnels: self.server.openTunnels))
            if self.exitCode == nil {
                self.poll()
            }
        }
    }
}
