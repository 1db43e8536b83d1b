/// HTTP request header fields in arrival order, looked up case-insensitively.
///
/// Kept independent of any HTTP library so that adapters depend on the model alone and the same request can
/// come from the server, a corpus file or a test.
public struct RequestHeaders: Sendable, Equatable, Sequence {
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    public mutating func append(name: String, value: String) {
        fields.append((name, value))
    }

    /// The field's value; a field sent more than once yields its values joined by `", "` (RFC 9110 §5.3),
    /// which is also why a credential header sent twice never matches a single configured secret.
    public subscript(name: String) -> String? {
        var result: String?
        for field in fields where field.name.equalsIgnoringASCIICase(name) {
            result = result.map { $0 + ", " + field.value } ?? field.value
        }
        return result
    }

    /// Every value of a field, one per occurrence.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name.equalsIgnoringASCIICase(name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool {
        fields.contains { $0.name.equalsIgnoringASCIICase(name) }
    }

    /// The approximate size of the header block on the wire: `name: value\r\n` per field.
    public var wireSize: Int {
        fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    public static func == (lhs: RequestHeaders, rhs: RequestHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

extension String {
    /// ASCII case-insensitive equality, as HTTP field names and media types require.
    package func equalsIgnoringASCIICase(_ other: String) -> Bool {
        let a = utf8
        let b = other.utf8
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) {
            let lx = x &- UInt8(ascii: "A") < 26 ? x | 0x20 : x
            let ly = y &- UInt8(ascii: "A") < 26 ? y | 0x20 : y
            if lx != ly { return false }
        }
        return true
    }
}

/// Secret comparison whose duration does not depend on where the first differing byte is.
public enum SecretComparison {
    /// True when `presented` equals `expected`; runs over the whole of both, whatever they hold.
    public static func matches(_ presented: String, _ expected: String) -> Bool {
        let a = Array(presented.utf8)
        let b = Array(expected.utf8)
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count) | (a.count == b.count ? 0 : 1)
        let length = max(a.count, b.count)
        for i in 0..<length {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }

    /// True when `presented` equals any of `candidates`; every candidate is compared, no early exit.
    public static func matchesAny(_ presented: String, _ candidates: [String]) -> Bool {
        var found = false
        for candidate in candidates where matches(presented, candidate) { found = true }
        return found
    }
}
