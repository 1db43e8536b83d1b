package import FieldgateCore
import FieldgateDelivery
package import FieldgateModel
import Synchronization

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

    /// Moves the clock forward by `duration` (a test jumping over days of failures).
    package func advance(by duration: Duration) {
        current.withLock { $0.millisecondsSinceEpoch += duration.milliseconds }
    }
}

/// No jitter: schedules exactly as configured, for tests.
package struct NoJitter: JitterSource {
    package init() {}
    package func next() -> Double { 0 }
}

/// A resolver that answers from a table and never asks DNS: a name can be made to resolve to any address (a
/// rebinding to a private one, say) while nothing leaves the machine. A name not in the table does not resolve.
package struct StaticAddressResolver: AddressResolver {
    package let table: [String: [IPAddress]]

    package init(_ table: [String: [String]]) {
        self.table = table.mapValues { $0.compactMap { IPAddress(literal: $0) } }
    }

    package func addresses(host: String, port: Int) async throws -> [IPAddress] {
        guard let addresses = table[host.lowercased()] else { throw DestinationRefused("\(host) does not resolve") }
        return addresses
    }
}
