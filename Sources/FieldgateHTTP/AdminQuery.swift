import FieldgateCore
import FieldgateModel
import Foundation
import Hummingbird

/// The query string of an admin request, read strictly: a mistyped filter is an error, not "everything".
///
/// Each accessor enforces exactly what the OpenAPI document's schema for that parameter states, so a value the
/// document allows is never refused and one it does not allow is never quietly taken (docs/DECISIONS.md, "Strict
/// admin queries"). Values are percent-decoded; `+` is a plus sign (RFC 3986), so a time offset such as `+02:00`
/// can be written as it is.
struct QueryParameters {
    private var values: [String: String] = [:]
    static let maximumLimit = 500
    static let defaultLimit = 50

    /// - Parameters:
    ///   - allowed: the parameters the operation declares; any other is 400.
    ///   - lists: those that are comma-separated lists, where an empty value is the empty list. Any other
    ///     parameter given with an empty value is 400: `?vendor=` is a filter left unfilled, not "every vendor".
    init(_ request: Request, allowed: Set<String>, lists: Set<String> = []) throws {
        let components = URLComponents(string: request.head.path ?? "/")
        for item in components?.queryItems ?? [] {
            guard allowed.contains(item.name) else {
                throw Problem.invalidQuery(
                    "unknown parameter '\(item.name)' (expected one of: \(allowed.sorted().joined(separator: ", ")))"
                )
            }
            guard values[item.name] == nil else { throw Problem.invalidQuery("parameter '\(item.name)' given twice") }
            let value = item.value ?? ""
            guard !value.isEmpty || lists.contains(item.name) else {
                throw Problem.invalidQuery("parameter '\(item.name)' is empty; leave it out not to filter by it")
            }
            values[item.name] = value
        }
        // A query string URLComponents cannot read (a stray `%`) has no items; it is not an empty query.
        if components == nil, let query = request.uri.query, !query.isEmpty {
            throw Problem.invalidQuery("the query string is not percent-encoded correctly")
        }
    }

    /// The value as given (never empty unless `name` is a list), or nil when absent.
    func text(_ name: String) -> String? {
        values[name]
    }

    /// A comma-separated list: spaces and empty entries are ignored, absent is empty.
    func list(_ name: String) -> [String] {
        (values[name] ?? "").split(separator: ",").map { String($0.filter { $0 != " " }) }.filter { !$0.isEmpty }
    }

    func vocabulary(_ name: String, _ words: [String]) throws -> String? {
        guard let value = text(name) else { return nil }
        guard words.contains(value) else {
            throw Problem.invalidQuery("\(name) '\(value)' is not one of: \(words.joined(separator: ", "))")
        }
        return value
    }

    /// An RFC 3339 `date-time` (`2026-10-26T21:14:06Z`, `…06.512+02:00`), as JSON Schema's format means it:
    /// nothing looser (no space for `T`, no missing seconds, no zone names).
    func timestamp(_ name: String) throws -> UTCTimestamp? {
        guard let value = text(name) else { return nil }
        guard RFC3339.isDateTime(value), let instant = UTCTimestamp(rfc3339: value) else {
            throw Problem.invalidQuery("\(name) '\(value)' is not an RFC 3339 time such as 2026-10-26T21:14:06Z")
        }
        return instant
    }

    func limit() throws -> Int {
        guard let value = text("limit") else { return Self.defaultLimit }
        guard value.utf8.allSatisfy(RFC3339.isDigit), let limit = Int(value), (1...Self.maximumLimit).contains(limit)
        else {
            throw Problem.invalidQuery("limit '\(value)' must be a whole number from 1 to \(Self.maximumLimit)")
        }
        return limit
    }

    /// A position in acceptance order (`^[1-9][0-9]{0,17}$`): every such number is a position, whether or not this
    /// API returned it, so the page simply starts after it.
    func sequenceCursor() throws -> Int64? {
        guard let value = text("cursor") else { return nil }
        let digits = Array(value.utf8)
        guard (1...18).contains(digits.count), digits[0] != UInt8(ascii: "0"), digits.allSatisfy(RFC3339.isDigit),
            let cursor = Int64(value)
        else {
            throw Problem.invalidQuery("cursor '\(value)' is not a cursor this API returns (a positive whole number)")
        }
        return cursor
    }

    /// The jobs listing's cursor (``JobCursor``'s text form).
    func jobCursor() throws -> JobCursor? {
        guard let value = text("cursor") else { return nil }
        guard let cursor = JobCursor(text: value) else {
            throw Problem.invalidQuery(
                "cursor '\(value)' is not a cursor this API returns (<milliseconds>.<base64url>)"
            )
        }
        return cursor
    }

    /// A vendor this build has an adapter for.
    func vendor(_ name: String, known vendors: [String]) throws -> String? {
        try vocabulary(name, vendors)
    }

    /// A tenant slug: one printable ASCII path segment (no spaces, `/` or `?`), as fieldgate.yaml allows them.
    func tenant(_ name: String) throws -> String? {
        guard let value = text(name) else { return nil }
        guard GatewayConfiguration.isTenantSlug(value) else {
            throw Problem.invalidQuery(
                "\(name) '\(value)' is not a tenant slug (printable ASCII, no spaces, '/' or '?')"
            )
        }
        return value
    }

    /// An event ID: 32 lowercase hex characters.
    func eventID(_ name: String) throws -> String? {
        guard let value = text(name) else { return nil }
        guard EventIDText.isValid(value) else {
            throw Problem.invalidQuery("\(name) '\(value)' is not an event ID (32 lowercase hex characters)")
        }
        return value
    }

    /// A subscriber ID: printable ASCII without spaces or `/`.
    func subscriberID(_ name: String) throws -> String? {
        guard let value = text(name) else { return nil }
        guard SubscriberIDText.isValid(value) else {
            throw Problem.invalidQuery("\(name) '\(value)' is not a subscriber ID (printable ASCII, no spaces or '/')")
        }
        return value
    }
}

/// RFC 3339 `date-time` syntax (section 5.6): `full-date "T" full-time`, `T` and `Z` in either case.
enum RFC3339 {
    static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    static func isDateTime(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0
        func digits(_ count: Int) -> Bool {
            guard index + count <= bytes.count, bytes[index..<index + count].allSatisfy(isDigit) else { return false }
            index += count
            return true
        }
        func byte(_ allowed: String) -> Bool {
            guard index < bytes.count, allowed.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard digits(4), byte("-"), digits(2), byte("-"), digits(2), byte("Tt"), digits(2), byte(":"), digits(2),
            byte(":"), digits(2)
        else { return false }
        if byte(".") {
            guard digits(1) else { return false }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if byte("Zz") { return index == bytes.count }
        guard byte("+-"), digits(2), byte(":"), digits(2) else { return false }
        return index == bytes.count
    }
}

/// `^[0-9a-f]{32}$`, the form of every event ID (CONTRACT §2).
enum EventIDText {
    static func isValid(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { RFC3339.isDigit($0) || (0x61...0x66).contains($0) }
    }
}

/// `^[!-.0-~]+$`: the subscriber IDs the admin API creates.
enum SubscriberIDText {
    static func isValid(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }
    }
}

extension String {
    var removingPercentEncodingIfNeeded: String {
        contains("%") ? (removingPercentEncoding ?? self) : self
    }
}
