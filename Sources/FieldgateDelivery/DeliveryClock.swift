package import FieldgateCore
package import FieldgateModel

/// Where the delivery engine reads the time and waits for it; injected so that tests run a day and a half of
/// retry schedule in milliseconds (`VirtualDeliveryClock` in FieldgateTestSupport).
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

/// Spreads retries so that receivers coming back from an outage are not hit by every sender at once.
package protocol JitterSource: Sendable {
    /// A value in -1…1; the retry delay is scaled by `1 + 0.2 × value` (±20 %).
    func next() -> Double
}

package struct RandomJitter: JitterSource {
    package init() {}
    package func next() -> Double { Double.random(in: -1...1) }
}
