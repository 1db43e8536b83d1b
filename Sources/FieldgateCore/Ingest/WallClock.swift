package import FieldgateModel
import Synchronization

import struct Foundation.Date

/// Where receipt times and dedupe expiry come from; injected so tests control time.
package protocol WallClock: Sendable {
    func now() -> UTCTimestamp
}

/// The system's real-time clock.
package struct SystemWallClock: WallClock {
    package init() {}

    package func now() -> UTCTimestamp {
        UTCTimestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}

/// A clock that moves only when told to.
package final class ManualWallClock: WallClock {
    private let current: Mutex<UTCTimestamp>

    package init(_ start: UTCTimestamp) {
        current = Mutex(start)
    }

    package func now() -> UTCTimestamp { current.withLock { $0 } }

    package func advance(by duration: Duration) {
        current.withLock { $0.millisecondsSinceEpoch += duration.milliseconds }
    }

    package func set(_ instant: UTCTimestamp) {
        current.withLock { $0 = instant }
    }
}

extension Duration {
    /// Whole milliseconds (truncated), saturating at `Int64`'s limits rather than trapping: a duration that
    /// came from outside is bounded where it is read, and this keeps any that slipped through from crashing.
    package var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, sumOverflow) = whole.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        if sumOverflow { return seconds < 0 ? .min : .max }
        return sum
    }
}
