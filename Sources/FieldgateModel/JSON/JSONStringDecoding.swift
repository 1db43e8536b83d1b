/// Decoding of validated JSON string tokens: the parser has already checked every escape, so nothing here fails.
enum JSONStringDecoding {
    /// Decodes the escapes of an already validated string token into UTF-8 bytes.
    static func decode(_ bytes: [UInt8], _ token: JSONToken) -> [UInt8] {
        bytes.withUnsafeBufferPointer { decode($0, token) }
    }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ token: JSONToken) -> [UInt8] {
        let capacity = max(Int(token.end - token.start), 1)
        return [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            count = decode(bytes, token, into: buffer.baseAddress!, capacity: capacity)
        }
    }

    /// Decodes a validated string token as a `String`, written straight into the string's own storage.
    static func string(_ bytes: UnsafeBufferPointer<UInt8>, _ token: JSONToken) -> String {
        let capacity = Int(token.end - token.start)
        return String(unsafeUninitializedCapacity: capacity) { buffer in
            decode(bytes, token, into: buffer.baseAddress!, capacity: capacity)
        }
    }

    /// Writes the decoded string to `output` and returns the decoded length. `capacity` must be at least the
    /// token's length: a decoded string is never longer than its escaped form (`\uXXXX` is 6 bytes for at most 3,
    /// a surrogate pair 12 for 4). Runs between escapes are copied whole.
    static func decode(
        _ bytes: UnsafeBufferPointer<UInt8>,
        _ token: JSONToken,
        into output: UnsafeMutablePointer<UInt8>,
        capacity: Int
    ) -> Int {
        var i = Int(token.start)
        let end = Int(token.end)
        assert(end <= bytes.count && capacity >= end - i, "decoded string would not fit")
        var written = 0
        guard let source = bytes.baseAddress, end > i else { return 0 }
        while i < end {
            let run = JSONByteScan.nextBackslash(bytes, from: i, end: end)
            if run > i {
                (output + written).update(from: source + i, count: run - i)
                written += run - i
                i = run
            }
            guard i < end else { break }
            let (scalar, length) = escape(bytes, at: i)
            i += length
            written += writeUTF8(scalar, to: output + written)
            assert(written <= capacity)
        }
        return written
    }

    /// The character of the validated escape at `i` (its backslash) and the escape's length in bytes.
    @inline(__always)
    static func escape(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (scalar: UInt32, length: Int) {
        switch bytes[i + 1] {
        case UInt8(ascii: "b"): return (0x08, 2)
        case UInt8(ascii: "f"): return (0x0C, 2)
        case UInt8(ascii: "n"): return (0x0A, 2)
        case UInt8(ascii: "r"): return (0x0D, 2)
        case UInt8(ascii: "t"): return (0x09, 2)
        case UInt8(ascii: "u"):
            let unit = hex4(bytes, i + 2)
            guard (0xD800...0xDBFF).contains(unit) else { return (unit, 6) }
            // A high surrogate is always followed by `\u` and a low one (the parser checked): 20 bits of scalar
            // above U+FFFF, ten from each half.
            let low = hex4(bytes, i + 8)
            return (0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), 12)
        case let byte:  // \" \\ \/
            return (UInt32(byte), 2)
        }
    }

    /// Whether the validated string token decodes to exactly `key`, decoding escapes one at a time and stopping
    /// at the first difference: no copy, and never more work than the shorter of the two.
    static func equals(
        _ bytes: UnsafeBufferPointer<UInt8>,
        _ token: JSONToken,
        _ key: UnsafeBufferPointer<UInt8>
    )
        -> Bool
    {
        var i = Int(token.start)
        let end = Int(token.end)
        var k = 0
        let count = key.count
        while i < end {
            let byte = bytes[i]
            if byte != UInt8(ascii: "\\") {
                guard k < count, key[k] == byte else { return false }
                i += 1
                k += 1
                continue
            }
            let (scalar, length) = escape(bytes, at: i)
            i += length
            var encoded: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
            let written = withUnsafeMutableBytes(of: &encoded) { raw in
                writeUTF8(scalar, to: raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            guard k + written <= count else { return false }
            let matches = withUnsafeBytes(of: &encoded) { raw in
                (0..<written).allSatisfy { raw[$0] == key[k + $0] }
            }
            guard matches else { return false }
            k += written
        }
        return k == count
    }

    static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32 {
        var value: UInt32 = 0
        for k in 0..<4 { value = value << 4 | UInt32(hexValue(bytes[at + k]) ?? 0) }
        return value
    }

    /// Writes `scalar` as 1–4 bytes of UTF-8 and returns how many.
    static func writeUTF8(_ scalar: UInt32, to output: UnsafeMutablePointer<UInt8>) -> Int {
        switch scalar {
        case 0..<0x80:
            output[0] = UInt8(scalar)
            return 1
        case 0x80..<0x800:
            output[0] = UInt8(0xC0 | (scalar >> 6))
            output[1] = UInt8(0x80 | (scalar & 0x3F))
            return 2
        case 0x800..<0x10000:
            output[0] = UInt8(0xE0 | (scalar >> 12))
            output[1] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
            output[2] = UInt8(0x80 | (scalar & 0x3F))
            return 3
        default:
            output[0] = UInt8(0xF0 | (scalar >> 18))
            output[1] = UInt8(0x80 | ((scalar >> 12) & 0x3F))
            output[2] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
            output[3] = UInt8(0x80 | (scalar & 0x3F))
            return 4
        }
    }
}

/// The value of an ASCII hex digit (either case), or nil. Shared by JSON `\u` escapes and form `%XX` escapes
/// (inlinable: the Hellotracks adapter calls it for every escape of every form).
@inlinable @inline(__always)
package func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
