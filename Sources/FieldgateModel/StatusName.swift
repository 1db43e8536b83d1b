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
        normalized = Self.normalizedUnicode(raw)
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

extension StatusName {
    /// The reduction for names with non-ASCII characters, in one pass over the scalars, with the same result as
    /// folding `Character` by `Character` (`isWhitespace`, then `lowercased()`, which lowercases scalar by scalar):
    /// a whitespace scalar separates, and so do the marks that extend it into one character (`" \u{301}"` is
    /// whitespace as a `Character`), except after a control (a tab or line feed is a character of its own, so a
    /// mark after it is one too); every other scalar is replaced by its full lowercase mapping. ASCII and scalars
    /// that lowercasing leaves alone are copied without building a string each: a name is the sender's and may be
    /// a megabyte long.
    static func normalizedUnicode(_ raw: String) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(raw.utf8.count)
        var pendingSpace = false
        /// The last character was whitespace that marks can extend.
        var extendingWhitespace = false
        for scalar in raw.unicodeScalars {
            let value = scalar.value
            if value < 0x80 {
                let byte = UInt8(value)
                if byte.isASCIIWhitespace {
                    pendingSpace = !output.isEmpty
                    extendingWhitespace = byte == 0x20
                    continue
                }
                extendingWhitespace = false
                if pendingSpace { output.append(UInt8(ascii: " ")) }
                pendingSpace = false
                output.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte)
                continue
            }
            let properties = scalar.properties
            if extendingWhitespace && Self.extendsCharacter(scalar) { continue }
            if properties.isWhitespace {
                pendingSpace = !output.isEmpty
                extendingWhitespace = !Self.isControl(scalar)
                continue
            }
            extendingWhitespace = false
            if pendingSpace { output.append(UInt8(ascii: " ")) }
            pendingSpace = false
            if properties.changesWhenLowercased {
                output.append(contentsOf: properties.lowercaseMapping.utf8)
            } else {
                output.append(contentsOf: UTF8.encode(scalar)!)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Scalars that continue the character before them (grapheme Extend, spacing marks, the zero-width joiner).
    static func extendsCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        return properties.isGraphemeExtend || properties.generalCategory == .spacingMark || scalar.value == 0x200D
    }

    /// Characters that stand alone whatever follows (grapheme Control, CR and LF).
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: true
        default: false
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
