import FieldgateModel

/// An `application/x-www-form-urlencoded` body, decoded (`+` is a space, `%XX` a byte) and checked for UTF-8.
///
/// Values stay decoded bytes: `data` (the bulk of every callback) goes straight to the JSON parser and the
/// canonical content without a round trip through `String`.
struct FormBody {
    struct Pair {
        var key: [UInt8]
        var value: [UInt8]
    }

    var pairs: [Pair]

    /// Parameters the adapter reads; each may appear at most once, or the request is ambiguous.
    static let singletonKeys: [String] = ["account", "id", "action", "data"]

    init(parsing bytes: [UInt8]) throws(AdapterError) {
        if let offset = UTF8Validation.firstInvalidByteOffset(in: bytes) {
            throw AdapterError(.invalidUTF8, "the form body is not UTF-8 (byte offset \(offset))")
        }
        pairs = []
        pairs.reserveCapacity(6)
        try bytes.withUnsafeBufferPointer { bytes throws(AdapterError) in
            var start = 0
            while start <= bytes.count {
                let end = Self.next(UInt8(ascii: "&"), in: bytes, from: start, to: bytes.count)
                if end > start {
                    let separator = Self.next(UInt8(ascii: "="), in: bytes, from: start, to: end)
                    let key = try Self.decode(bytes, start, separator)
                    let value = separator < end ? try Self.decode(bytes, separator + 1, end) : []
                    pairs.append(Pair(key: key, value: value))
                }
                start = end + 1
            }
        }
        for key in Self.singletonKeys where pairs.lazy.filter({ $0.key.elementsEqual(key.utf8) }).count > 1 {
            throw AdapterError(.formSyntax, "form parameter '\(key)' is given more than once")
        }
    }

    /// The decoded value's bytes of the parameter `key`.
    func bytes(_ key: String) -> [UInt8]? {
        pairs.first { $0.key.elementsEqual(key.utf8) }?.value
    }

    /// The decoded value of the parameter `key` as text.
    subscript(key: String) -> String? {
        bytes(key).map { String(decoding: $0, as: UTF8.self) }
    }

    static func next(_ byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        var i = start
        while i < end && bytes[i] != byte { i += 1 }
        return i
    }

    /// Percent-decodes `bytes[start..<end]`; the result must be UTF-8. Decoding never lengthens the text, so it
    /// is written straight into an array of the encoded length.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) throws(AdapterError) -> [UInt8] {
        var malformedAt: Int?
        var needsValidation = false
        let output = [UInt8](unsafeUninitializedCapacity: end - start) { output, count in
            var i = start
            var written = 0
            while i < end {
                let byte = bytes[i]
                if byte == UInt8(ascii: "%") {
                    guard i + 2 < end, let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) else {
                        malformedAt = i
                        break
                    }
                    let decoded = high << 4 | low
                    needsValidation = needsValidation || decoded >= 0x80
                    output[written] = decoded
                    i += 3
                } else {
                    output[written] = byte == UInt8(ascii: "+") ? 0x20 : byte
                    i += 1
                }
                written += 1
            }
            count = written
        }
        if let malformedAt {
            throw AdapterError(.formSyntax, "malformed percent escape at byte offset \(malformedAt)")
        }
        if needsValidation, let offset = UTF8Validation.firstInvalidByteOffset(in: output) {
            let name = String(
                decoding: UnsafeBufferPointer(rebasing: bytes[start..<min(end, start + 40)]),
                as: UTF8.self
            )
            throw AdapterError(
                .invalidUTF8,
                "form text '\(name)' is not UTF-8 after percent-decoding (decoded byte offset \(offset))"
            )
        }
        return output
    }
}
