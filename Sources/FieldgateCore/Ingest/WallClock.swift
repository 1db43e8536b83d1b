public import FieldgateModel
import Synchronization

import struct Foundation.Date

/// Where receipt times and dedupe expiry come from; injected so tests control time.
public protocol WallClock: Sendable {
    func now() -> UTCTimestamp
}

/// The system's real-time clock.
public struct SystemWallClock: WallClock {
    public init() {}

    public func now() -> UTCTimestamp {
        UTCTimestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}

/// A clock that moves only when told to.
public final class ManualWallClock: WallClock {
    private let current: Mutex<UTCTimestamp>

    public init(_ start: UTCTimestamp) {
        current = Mutex(start)
    }

    public func now() -> UTCTimestamp { current.withLock { $0 } }

    public func advance(by duration: Duration) {
        current.withLock { $0.millisecondsSinceEpoch += duration.milliseconds }
    }

    public func set(_ instant: UTCTimestamp) {
        current.withLock { $0 = instant }
    }
}

extension Duration {
    /// Whole milliseconds (truncated).
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
