/// The range of every duration, size and count that an operator (`fieldgate.yaml`) or the admin API sets.
///
/// A value outside its range is refused where it is read — at start-up with the file and line, or with a problem
/// document — and never stored, so nothing kept in the store can make later arithmetic trap (CONTRACT §7
/// "Bounds"; the ranges the contract does not fix are in docs/DECISIONS.md).
package enum Bounds {
    /// A subscriber's `timeout`, which covers the whole attempt: connect, head and body.
    package static let subscriberTimeout: ClosedRange<Duration> = .seconds(1)...(.seconds(300))
    /// Each entry of a subscriber's `retrySchedule`.
    package static let retryDelay: ClosedRange<Duration> = .seconds(1)...(.seconds(7 * 86_400))
    /// Entries in a `retrySchedule` (none: a failed attempt is a dead letter at once).
    package static let retryScheduleEntries: ClosedRange<Int> = 0...20
    /// `delivery.maxConcurrency`, the gateway's delivery limit; a subscriber's `maxConcurrency` is 1 to it.
    package static let deliveryConcurrency: ClosedRange<Int> = 1...1024
    /// The `gracePeriod` of a secret rotation (`POST /v1/subscribers/{id}/secret`); none ends the old secret at once.
    package static let secretGracePeriod: ClosedRange<Duration> = .zero...(.seconds(7 * 86_400))
    /// `server.shutdownTimeout`.
    package static let shutdownTimeout: ClosedRange<Duration> = .seconds(1)...(.seconds(600))
    /// `server.requestTimeout`: a request's head and body (CONTRACT §1).
    package static let requestTimeout: ClosedRange<Duration> = .seconds(1)...(.seconds(3_600))
    /// `server.idleTimeout`: an idle keep-alive connection.
    package static let idleTimeout: ClosedRange<Duration> = .seconds(1)...(.seconds(86_400))
    /// `server.maxConnections`.
    package static let maxConnections: ClosedRange<Int> = 1...1_000_000
    /// `delivery.disableAfter`.
    package static let disableAfter: ClosedRange<Duration> = .seconds(60)...(.seconds(365 * 86_400))
    /// Each `retention:` setting.
    package static let retention: ClosedRange<Duration> = .seconds(60)...(.seconds(3650 * 86_400))
    /// A tenant's `dedupeWindow`.
    package static let dedupeWindow: ClosedRange<Duration> = .seconds(1)...(.seconds(365 * 86_400))

    /// Why a value was refused. `malformed` is a 400 through the admin API, `outOfRange` a 422.
    package struct Violation: Error, Sendable, Equatable, CustomStringConvertible {
        package enum Kind: Sendable, Equatable {
            case malformed
            case outOfRange
        }

        package var kind: Kind
        package var reason: String

        package init(_ kind: Kind, _ reason: String) {
            self.kind = kind
            self.reason = reason
        }

        package var description: String { reason }
    }

    /// Reads `text` as a duration for `setting` and checks it against `range`.
    package static func duration(
        _ text: String,
        of setting: String,
        in range: ClosedRange<Duration>
    ) throws(Violation) -> Duration {
        switch DurationText.read(text) {
        case .duration(let duration) where range.contains(duration):
            return duration
        case .duration, .tooLong:
            throw Violation(.outOfRange, "\(setting) '\(text)' is out of range: it must be \(describe(range))")
        case .malformed:
            throw Violation(
                .malformed,
                "\(setting) '\(text)' is not a duration such as 500ms, 45s, 30m, 12h or 7d (\(describe(range)))"
            )
        }
    }

    /// Reads `text` as a whole number for `setting` and checks it against `range`.
    package static func count(_ text: String, of setting: String, in range: ClosedRange<Int>) throws(Violation) -> Int {
        let digits = text.utf8.drop { $0 == UInt8(ascii: "-") }
        guard !digits.isEmpty, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            throw Violation(
                .malformed,
                "\(setting) '\(text)' must be a whole number from \(range.lowerBound) to \(range.upperBound)"
            )
        }
        guard let value = Int(text), range.contains(value) else {
            throw Violation(
                .outOfRange,
                "\(setting) \(text) is out of range: it must be from \(range.lowerBound) to \(range.upperBound)"
            )
        }
        return value
    }

    /// "from 1s to 5m".
    package static func describe(_ range: ClosedRange<Duration>) -> String {
        "from \(DurationText.format(range.lowerBound)) to \(DurationText.format(range.upperBound))"
    }
}

extension ClosedRange where Bound == Duration {
    /// The nearest value in the range: for rows a store kept from before the bounds existed.
    package func clamp(_ value: Duration) -> Duration {
        Swift.min(Swift.max(value, lowerBound), upperBound)
    }
}

// MARK: - Subscriber settings

extension Subscriber {
    /// A `timeout` as read from the configuration or the admin API.
    package static func timeout(_ text: String) throws(Bounds.Violation) -> Duration {
        try Bounds.duration(text, of: "timeout", in: Bounds.subscriberTimeout)
    }

    /// A `retrySchedule` as read from the configuration or the admin API.
    package static func retrySchedule(_ entries: [String]) throws(Bounds.Violation) -> [Duration] {
        guard Bounds.retryScheduleEntries.contains(entries.count) else {
            throw Bounds.Violation(
                .outOfRange,
                "retrySchedule has \(entries.count) entries; at most \(Bounds.retryScheduleEntries.upperBound) are allowed"
            )
        }
        var schedule: [Duration] = []
        for entry in entries {
            schedule.append(try Bounds.duration(entry, of: "retrySchedule entry", in: Bounds.retryDelay))
        }
        return schedule
    }

    /// A `maxConcurrency` as read from the configuration or the admin API: 1 to the gateway's delivery limit.
    package static func maxConcurrency(_ text: String, deliveryLimit: Int) throws(Bounds.Violation) -> Int {
        try Bounds.count(text, of: "maxConcurrency", in: 1...deliveryLimit)
    }
}
