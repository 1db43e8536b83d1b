package import FieldgateModel
import Synchronization

/// Where the delivery engine reads the time and waits for it; injected so that tests run a day and a half of
/// retry schedule in milliseconds.
package protocol DeliveryClock: WallClock {
    /// Returns at `instant` (or throws when the task is cancelled).
    func sleep(until instant: UTCTimestamp) async throws
}

extension SystemWallClock: DeliveryClock {
    package func sleep(until instant: UTCTimestamp) async throws {
        let milliseconds = instant.millisecondsSinceEpoch - now().millisecondsSinceEpoch
        if milliseconds > 0 { try await Task.sleep(for: .milliseconds(milliseconds)) }
    }
}

/// A clock whose sleeps complete at once by moving its time forward: the engine sees every retry come due
/// without waiting for it. A short real pause keeps an idle engine from spinning.
package final class VirtualDeliveryClock: DeliveryClock {
    private let current: Mutex<UTCTimestamp>

    package init(_ start: UTCTimestamp) {
        current = Mutex(start)
    }

    package func now() -> UTCTimestamp { current.withLock { $0 } }

    package func sleep(until instant: UTCTimestamp) async throws {
        try await Task.sleep(for: .milliseconds(2))
        current.withLock { $0 = max($0, instant) }
    }
}

/// Spreads retries so that receivers coming back from an outage are not hit by every sender at once.
package protocol JitterSource: Sendable {
    /// A value in -1…1; the retry delay is scaled by `1 + 0.2 × value` (±20 %).
    func next() -> Double
}

package struct RandomJitter: JitterSource {
    package init() {}
    package func next() -> Double { Double.random(in: -1...1) }
}

/// No jitter: schedules exactly as configured, for tests.
package struct NoJitter: JitterSource {
    package init() {}
    package func next() -> Double { 0 }
}
