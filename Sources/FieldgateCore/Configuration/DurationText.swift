/// Durations as operators write them: `30m`, `7d`, `1h30m`, `45s`, `500ms`.
///
/// Reading is overflow-safe: every step is checked arithmetic on whole milliseconds, and nothing longer than
/// ``maximum`` is a duration at all, so a value read here can be added to any timestamp of this era without
/// trapping. Whether a duration is acceptable for a given setting is ``Bounds``' question.
package enum DurationText {
    /// A hundred years: longer than any bound, far enough from `Int64`'s limits that timestamps plus durations
    /// (milliseconds) and durations in nanoseconds (NIO's `TimeAmount`) never overflow.
    package static let maximum = Duration.seconds(100 * 365 * 86_400)

    /// What a text says.
    package enum Reading: Sendable, Equatable {
        case duration(Duration)
        /// Grammatical, but longer than ``DurationText/maximum`` (or too long to compute).
        case tooLong
        case malformed
    }

    /// The duration, or nil when the text is not one or is longer than ``maximum``.
    package static func parse(_ text: String) -> Duration? {
        if case .duration(let duration) = read(text) { return duration }
        return nil
    }

    package static func read(_ text: String) -> Reading {
        let maximumMilliseconds = maximum.milliseconds
        var total: Int64 = 0
        var amount: Int64?
        var sawUnit = false
        var bytes = text.utf8.filter { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }[...]
        guard !bytes.isEmpty else { return .malformed }
        while let byte = bytes.first {
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                let digit = Int64(byte - UInt8(ascii: "0"))
                let (tens, overflow) = (amount ?? 0).multipliedReportingOverflow(by: 10)
                // Keep scanning so that "99999999999999999999x" is malformed, not too long.
                amount = overflow || tens > maximumMilliseconds ? Int64.max : tens + digit
                bytes = bytes.dropFirst()
                continue
            }
            guard let value = amount else { return .malformed }
            amount = nil
            let unit: Int64
            if bytes.starts(with: "ms".utf8) {
                unit = 1
                bytes = bytes.dropFirst(2)
            } else {
                switch byte {
                case UInt8(ascii: "s"): unit = 1000
                case UInt8(ascii: "m"): unit = 60_000
                case UInt8(ascii: "h"): unit = 3_600_000
                case UInt8(ascii: "d"): unit = 86_400_000
                case UInt8(ascii: "w"): unit = 604_800_000
                default: return .malformed
                }
                bytes = bytes.dropFirst()
            }
            sawUnit = true
            let (product, productOverflow) = value.multipliedReportingOverflow(by: unit)
            let (sum, sumOverflow) = total.addingReportingOverflow(product)
            // Saturate and keep reading: a later malformed part still makes the whole text malformed.
            total = productOverflow || sumOverflow ? Int64.max : sum
        }
        guard amount == nil, sawUnit else { return .malformed }
        guard total <= maximumMilliseconds else { return .tooLong }
        return .duration(.milliseconds(total))
    }

    /// The shortest exact form: `10h`, `5m`, `45s`, `1500ms`.
    package static func format(_ duration: Duration) -> String {
        let milliseconds = duration.milliseconds
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        where milliseconds != 0 && milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }
}
