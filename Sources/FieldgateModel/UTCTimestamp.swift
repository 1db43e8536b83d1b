/// An instant with millisecond precision, written as RFC 3339 in UTC.
///
/// Vendors send times as ISO strings with offsets, as epoch milliseconds, or as site-local wall-clock text;
/// everything canonical is UTC so that subscribers never have to guess.
public struct UTCTimestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var millisecondsSinceEpoch: Int64

    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    public static func < (lhs: UTCTimestamp, rhs: UTCTimestamp) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }

    public var description: String { rfc3339() }

    /// `2026-09-14T06:31:07Z`, or with `.mmm` when the milliseconds are non-zero or `alwaysMilliseconds`.
    public func rfc3339(alwaysMilliseconds: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        writeRFC3339(into: &bytes, alwaysMilliseconds: alwaysMilliseconds)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends ``rfc3339(alwaysMilliseconds:)``'s text: the event writer calls this for every event.
    public func writeRFC3339(into output: inout [UInt8], alwaysMilliseconds: Bool = false) {
        let milliseconds = Int(((millisecondsSinceEpoch % 1000) + 1000) % 1000)
        let seconds = (millisecondsSinceEpoch - Int64(milliseconds)) / 1000
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let secondOfDay = Int(seconds - Int64(days) * 86_400)
        let (year, month, day) = CivilCalendar.date(fromDaysSinceEpoch: days)
        func digits(_ value: Int, _ width: Int) {
            guard value >= 0, value < 10_000 else {
                // Outside 0…9999 (never for real events): as many digits as it takes, at least `width`.
                let text = String(value)
                output.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(0, width - text.utf8.count)))
                output.append(contentsOf: text.utf8)
                return
            }
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                output.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        digits(year, 4)
        output.append(UInt8(ascii: "-"))
        digits(month, 2)
        output.append(UInt8(ascii: "-"))
        digits(day, 2)
        output.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2)
        output.append(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2)
        output.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2)
        if milliseconds != 0 || alwaysMilliseconds {
            output.append(UInt8(ascii: "."))
            digits(milliseconds, 3)
        }
        output.append(UInt8(ascii: "Z"))
    }

    // MARK: Parsing

    /// Parses RFC 3339 / ISO 8601 date-times with `Z` or a numeric offset (`T` or a space between date and time).
    public init?(rfc3339 text: String) {
        guard let parts = LocalDateTime(parsing: text), let offset = parts.offsetSeconds else { return nil }
        self = parts.timestamp(utcOffsetSeconds: offset)
    }

    /// Unix epoch milliseconds, as Hellotracks sends them; nil for 0, which Hellotracks uses for "never".
    public init?(epochMilliseconds: Int64) {
        guard epochMilliseconds > 0 else { return nil }
        self.millisecondsSinceEpoch = epochMilliseconds
    }
}

/// A wall-clock date-time as written, with whatever zone designator followed it.
public struct LocalDateTime: Sendable, Equatable {
    public var year, month, day, hour, minute, second, millisecond: Int
    /// The numeric offset when the text carried `Z` or `±hh:mm`.
    public var offsetSeconds: Int?
    /// A trailing zone name such as `PDT` or `MST`, uppercased.
    public var zoneAbbreviation: String?

    /// Parses `YYYY-MM-DD[T| ]hh:mm[:ss[.fff]][Z|±hh[:]mm| ABBR]`.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int? {
            guard i + width <= bytes.count else { return nil }
            var value = 0
            for k in 0..<width {
                let digit = bytes[i + k] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                value = value * 10 + Int(digit)
            }
            i += width
            return value
        }
        func expect(_ byte: UInt8) -> Bool {
            guard i < bytes.count, bytes[i] == byte else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect(UInt8(ascii: "-")), let month = number(2), expect(UInt8(ascii: "-")),
            let day = number(2)
        else { return nil }
        guard i < bytes.count, bytes[i] == UInt8(ascii: "T") || bytes[i] == UInt8(ascii: "t") || bytes[i] == 0x20
        else { return nil }
        i += 1
        guard let hour = number(2), expect(UInt8(ascii: ":")), let minute = number(2) else { return nil }
        var second = 0
        var millisecond = 0
        if expect(UInt8(ascii: ":")) {
            guard let value = number(2) else { return nil }
            second = value
            if expect(UInt8(ascii: ".")) || expect(UInt8(ascii: ",")) {
                var scale = 100
                var digits = 0
                while i < bytes.count, bytes[i] &- UInt8(ascii: "0") < 10 {
                    millisecond += Int(bytes[i] - UInt8(ascii: "0")) * scale
                    scale /= 10
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
            }
        }
        guard (1...12).contains(month), (1...CivilCalendar.daysIn(month: month, year: year)).contains(day),
            hour < 24, minute < 60, second < 61
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = min(second, 59)
        self.millisecond = millisecond
        self.offsetSeconds = nil
        self.zoneAbbreviation = nil
        if i == bytes.count { return }
        if expect(UInt8(ascii: "Z")) || expect(UInt8(ascii: "z")) {
            offsetSeconds = 0
        } else if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            let sign = bytes[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let hours = number(2) else { return nil }
            _ = expect(UInt8(ascii: ":"))
            guard let minutes = number(2), hours < 24, minutes < 60 else { return nil }
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
        } else if expect(0x20) {
            let rest = String(decoding: bytes[i...], as: UTF8.self)
            guard !rest.isEmpty,
                rest.utf8.allSatisfy({ ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") })
            else { return nil }
            zoneAbbreviation = rest.uppercased()
            offsetSeconds = ZoneAbbreviation.offsetSeconds[zoneAbbreviation!]
            i = bytes.count
        }
        guard i == bytes.count else { return nil }
    }

    /// The instant this wall-clock time denotes at the given UTC offset.
    public func timestamp(utcOffsetSeconds: Int) -> UTCTimestamp {
        let days = CivilCalendar.daysSinceEpoch(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(utcOffsetSeconds)
        return UTCTimestamp(millisecondsSinceEpoch: seconds * 1000 + Int64(millisecond))
    }

    /// The instant when the text carried an offset or a known zone abbreviation.
    public var timestamp: UTCTimestamp? {
        offsetSeconds.map { timestamp(utcOffsetSeconds: $0) }
    }
}

/// North American zone abbreviations (TechLink's sites are in the US and Canada). Ambiguous elsewhere-used
/// abbreviations such as `CST` and `IST` are read the North American way; unknown ones leave the time unconverted.
public enum ZoneAbbreviation {
    public static let offsetSeconds: [String: Int] = [
        "UTC": 0, "GMT": 0, "Z": 0,
        "NST": -12_600, "NDT": -9_000,
        "AST": -14_400, "ADT": -10_800,
        "EST": -18_000, "EDT": -14_400,
        "CST": -21_600, "CDT": -18_000,
        "MST": -25_200, "MDT": -21_600,
        "PST": -28_800, "PDT": -25_200,
        "AKST": -32_400, "AKDT": -28_800,
        "HST": -36_000, "HDT": -32_400,
    ]
}

/// Proleptic Gregorian arithmetic (Howard Hinnant's days-from-civil), so formatting needs no Foundation calendar.
enum CivilCalendar {
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func date(fromDaysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
