/// A vendor status name reduced to the form status tables are keyed by.
///
/// Portals and dispatchers type status names by hand, so "On  Site", " on site" and "ON SITE" are one name:
/// case-folded, trimmed, inner whitespace collapsed to single spaces.
public struct StatusName: Hashable, Sendable, CustomStringConvertible {
    public let normalized: String

    public init(_ raw: String) {
        if let ascii = Self.normalizedASCII(raw) {
            normalized = ascii
            return
        }
        var result = ""
        result.reserveCapacity(raw.utf8.count)
        var pendingSpace = false
        for character in raw {
            if character.isWhitespace {
                pendingSpace = !result.isEmpty
                continue
            }
            if pendingSpace { result.append(" ") }
            pendingSpace = false
            result.append(contentsOf: character.lowercased())
        }
        normalized = result
    }

    public var description: String { normalized }

    /// The same reduction on bytes, for the usual all-ASCII name; nil when the name has any other character.
    static func normalizedASCII(_ raw: String) -> String? {
        var raw = raw
        return raw.withUTF8 { bytes -> String? in
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
            return String(unsafeUninitializedCapacity: bytes.count) { output in
                var count = 0
                var pendingSpace = false
                for byte in bytes {
                    if byte.isASCIIWhitespace {
                        pendingSpace = count > 0
                        continue
                    }
                    if pendingSpace {
                        output[count] = UInt8(ascii: " ")
                        count += 1
                    }
                    pendingSpace = false
                    output[count] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
                    count += 1
                }
                return count
            }
        }
    }
}

extension UInt8 {
    /// The ASCII characters `Character.isWhitespace` accepts: tab, line feed, vertical tab, form feed, carriage
    /// return and space.
    @inlinable
    package var isASCIIWhitespace: Bool { self == 0x20 || (self >= 0x09 && self <= 0x0D) }
}

/// A lookup from normalised status names to canonical statuses.
public struct StatusNameTable: Sendable {
    private var entries: [StatusName: JobStatus]

    public init(_ entries: [JobStatus: [String]]) {
        var table: [StatusName: JobStatus] = [:]
        for (status, names) in entries {
            for name in names { table[StatusName(name)] = status }
        }
        self.entries = table
    }

    public init(names: [String: JobStatus]) {
        var table: [StatusName: JobStatus] = [:]
        for (name, status) in names { table[StatusName(name)] = status }
        entries = table
    }

    public subscript(name: String) -> JobStatus? { entries[StatusName(name)] }

    public var isEmpty: Bool { entries.isEmpty }
}
