/// A vendor status name reduced to the form status tables are keyed by.
///
/// Portals and dispatchers type status names by hand, so "On  Site", " on site" and "ON SITE" are one name:
/// case-folded (each character's full lowercase mapping), trimmed, inner whitespace (Unicode's White_Space)
/// collapsed to single spaces.
///
/// A name is a field of the request and may be a megabyte long, so the reduction is one pass over its UTF-8
/// bytes: ASCII and Latin-1 letters are folded in place, whitespace is recognised by its fixed list, and only
/// other cased scalars pay for a lookup of their mapping. A table lookup folds at most as many bytes as its
/// longest name (``init(_:maximumLength:)``): a longer name cannot match, however much whitespace surrounds it.
public struct StatusName: Hashable, Sendable, CustomStringConvertible {
    public let normalized: String

    public init(_ raw: String) {
        normalized = Self.fold(raw, limit: Int.max)!
    }

    /// The name, or nil when it folds to more than `maximumLength` bytes (it is then no name of a table whose
    /// longest name is that long). Folding stops at the first byte past the limit.
    public init?(_ raw: String, maximumLength: Int) {
        guard let folded = Self.fold(raw, limit: maximumLength) else { return nil }
        normalized = folded
    }

    public var description: String { normalized }

    static func fold(_ raw: String, limit: Int) -> String? {
        var raw = raw
        return raw.withUTF8 { bytes -> String? in
            var output: [UInt8] = []
            output.reserveCapacity(min(bytes.count, limit))
            var pendingSpace = false
            var i = 0
            let count = bytes.count
            while i < count {
                let byte = bytes[i]
                if byte < 0x80 {
                    i += 1
                    if byte.isASCIIWhitespace {
                        pendingSpace = !output.isEmpty
                        continue
                    }
                    if pendingSpace { output.append(UInt8(ascii: " ")) }
                    pendingSpace = false
                    output.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte)
                } else {
                    // A well-formed sequence (the text is a String): its length from the lead byte.
                    let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
                    var value = UInt32(byte) & (0xFF >> (length + 1))
                    for k in 1..<length { value = value << 6 | UInt32(bytes[i + k] & 0x3F) }
                    let sequence = UnsafeBufferPointer(rebasing: bytes[i..<i + length])
                    i += length
                    if Self.isWhitespace(value) {
                        pendingSpace = !output.isEmpty
                        continue
                    }
                    if pendingSpace { output.append(UInt8(ascii: " ")) }
                    pendingSpace = false
                    Self.appendLowercased(value, sequence, to: &output)
                }
                if output.count > limit { return nil }
            }
            return String(decoding: output, as: UTF8.self)
        }
    }

    /// Unicode's White_Space property outside ASCII: a fixed list (NEL, no-break space, ogham space mark, the
    /// spaces U+2000–U+200A, line and paragraph separators, narrow no-break, medium mathematical and ideographic
    /// spaces), checked without a property lookup.
    @inline(__always)
    static func isWhitespace(_ value: UInt32) -> Bool {
        switch value {
        case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// The scalar's full lowercase mapping: Latin-1 capitals by arithmetic, scalars that lowercasing leaves alone
    /// copied as they are, the rest through the standard library's mapping.
    @inline(__always)
    static func appendLowercased(_ value: UInt32, _ sequence: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        if (0xC0...0xDE).contains(value) && value != 0xD7 {
            // À…Þ (not ×) lower to à…þ, 32 further on; both are two bytes, C3 80–9E → C3 A0–BE.
            output.append(sequence[0])
            output.append(sequence[1] &+ 0x20)
            return
        }
        guard let scalar = Unicode.Scalar(value), scalar.properties.changesWhenLowercased else {
            output.append(contentsOf: sequence)
            return
        }
        output.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
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
    /// The longest name, folded: a lookup folds no more of a name than this.
    private var maximumLength = 0

    public init(_ entries: [JobStatus: [String]]) {
        var table: [StatusName: JobStatus] = [:]
        for (status, names) in entries {
            for name in names { table[StatusName(name)] = status }
        }
        self.entries = table
        maximumLength = table.keys.map(\.normalized.utf8.count).max() ?? 0
    }

    public init(names: [String: JobStatus]) {
        var table: [StatusName: JobStatus] = [:]
        for (name, status) in names { table[StatusName(name)] = status }
        entries = table
        maximumLength = table.keys.map(\.normalized.utf8.count).max() ?? 0
    }

    public subscript(name: String) -> JobStatus? {
        StatusName(name, maximumLength: maximumLength).flatMap { entries[$0] }
    }

    public var isEmpty: Bool { entries.isEmpty }
}
