import FieldgateCore
import FieldgateModel
import Foundation

/// What an unsuccessful attempt leads to: the subscriber's schedule, scaled by jitter, never sooner than the
/// receiver's `Retry-After` (bounded), and a dead letter when the schedule has run out.
struct RetryPolicy: Sendable {
    /// The longest `Retry-After` honoured; a receiver asking for more is retried after this.
    var maximumRetryAfter: Duration = .seconds(36_000)

    /// `attempt` counts from 1 (the attempt that just failed).
    func result(
        afterAttempt attempt: Int,
        schedule: [Duration],
        now: UTCTimestamp,
        jitter: Double,
        retryAfter: Duration?
    ) -> DeliveryAttempt.Result {
        guard attempt <= schedule.count else { return .dead }
        // Clamped: a schedule stored before the bounds existed must not overflow the arithmetic below.
        let entry = Bounds.retryDelay.clamp(schedule[attempt - 1])
        let scheduled = Double(entry.milliseconds) * (1 + 0.2 * max(-1, min(1, jitter)))
        var delay = Int64(scheduled.rounded())
        if let retryAfter {
            delay = max(delay, min(retryAfter, maximumRetryAfter).milliseconds)
        }
        return .retry(at: UTCTimestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch + delay))
    }

    /// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3); nil when absent or unreadable.
    static func retryAfter(_ value: String?, now: UTCTimestamp) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int64(value), seconds >= 0 { return .seconds(seconds) }
        guard let date = HTTPDate.parse(value) else { return nil }
        let milliseconds = date.millisecondsSinceEpoch - now.millisecondsSinceEpoch
        return .milliseconds(max(0, milliseconds))
    }
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only HTTP date form senders may generate.
enum HTTPDate {
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func parse(_ text: String) -> UTCTimestamp? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]),
            let month = months.firstIndex(of: String(parts[2])), let year = Int(parts[3])
        else { return nil }
        let time = parts[4].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3 else { return nil }
        let iso = String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", year, month + 1, day, time[0], time[1], time[2])
        return UTCTimestamp(rfc3339: iso)
    }
}
