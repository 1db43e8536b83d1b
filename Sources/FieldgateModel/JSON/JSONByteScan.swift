/// Word-at-a-time scanning and comparison of raw bytes: every byte of every request passes through here.
///
/// The tricks are the classic SWAR ones ("SIMD within a register"): eight bytes are loaded as one `UInt64` and
/// tested together with a few integer operations, and only the word that holds a hit is looked at byte by byte.
enum JSONByteScan {
    /// `0x01` in every byte.
    static let ones: UInt64 = 0x0101_0101_0101_0101
    /// `0x80` in every byte: the high bit of each byte lane.
    static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Whether any byte of `word` is zero (exact as a yes/no answer).
    ///
    /// `word - 0x01…01` borrows through a byte lane only where that byte was zero (or where a borrow already came
    /// from below, which needs a zero byte below); `& ~word` drops lanes whose own high bit was set, so a lane's
    /// high bit survives only if the byte was zero. Lanes above the first zero may report falsely, which is why
    /// this answers "is there one", not "where".
    @inline(__always)
    static func hasZeroByte(_ word: UInt64) -> Bool {
        (word &- ones) & ~word & highBits != 0
    }

    /// Whether any byte of `word` is less than 0x20 (a control character), by the same borrow trick: subtracting
    /// 0x20 from a lane sets its high bit when the byte was below 0x20 (or above 0x9F), and `& ~word` keeps only
    /// lanes whose byte was below 0x80, leaving exactly the bytes below 0x20 as far as the first of them.
    @inline(__always)
    static func hasControlByte(_ word: UInt64) -> Bool {
        (word &- ones &* 0x20) & ~word & highBits != 0
    }

    /// Whether any byte of `word` equals `byte`: XOR turns the matching lanes into zero bytes.
    @inline(__always)
    static func hasByte(_ word: UInt64, _ byte: UInt8) -> Bool {
        hasZeroByte(word ^ (ones &* UInt64(byte)))
    }

    /// The offset of the first `"`, `\` or control byte at or after `from` inside a JSON string, or `bytes.count`.
    @inline(__always)
    static func skipPlainStringBytes(_ bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
        var i = from
        let count = bytes.count
        guard let base = bytes.baseAddress else { return count }
        while i + 8 <= count {
            let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            if hasControlByte(word) || hasByte(word, 0x22) || hasByte(word, 0x5C) { break }
            i += 8
        }
        while i < count {
            let byte = base[i]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { return i }
            i += 1
        }
        return count
    }

    /// The offset of the first backslash in `bytes[from..<end]`, or `end`.
    @inline(__always)
    static func nextBackslash(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, end: Int) -> Int {
        assert(from >= 0 && end <= bytes.count, "scan outside the buffer")
        var i = from
        guard let base = bytes.baseAddress else { return end }
        while i + 8 <= end {
            let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            if hasByte(word, 0x5C) { break }
            i += 8
        }
        while i < end && base[i] != UInt8(ascii: "\\") { i += 1 }
        return i
    }

    /// The offset of the first `byte` in `bytes[from..<end]`, or `end`.
    @inline(__always)
    static func next(_ byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from: Int, end: Int) -> Int {
        assert(from >= 0 && end <= bytes.count, "scan outside the buffer")
        var i = from
        guard let base = bytes.baseAddress else { return end }
        while i + 8 <= end {
            let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            if hasByte(word, byte) { break }
            i += 8
        }
        while i < end && base[i] != byte { i += 1 }
        return i
    }
}

/// Byte-string equality and order, eight bytes at a time: object keys are compared in the duplicate check, the
/// canonical sort and member lookups (and form pairs in the Hellotracks canonical content), and a sender chooses
/// how long their common prefixes are. Inlinable: adapters sort with it.
package enum RawBytes {
    @inlinable @inline(__always)
    package static func equal(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, count: Int) -> Bool {
        var i = 0
        while i + 8 <= count {
            if UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self)
                != UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self)
            {
                return false
            }
            i += 8
        }
        while i < count {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }

    /// Negative, zero or positive as `a` sorts before, equal to or after `b` bytewise (a prefix sorts first).
    @inlinable @inline(__always)
    package static func compare(
        _ a: UnsafePointer<UInt8>,
        count aCount: Int,
        _ b: UnsafePointer<UInt8>,
        count bCount: Int,
        from start: Int = 0
    ) -> Int {
        let common = min(aCount, bCount)
        var i = min(start, common)
        while i + 8 <= common {
            let x = UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self)
            let y = UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self)
            // Big-endian order makes the first byte in memory the most significant, so the integer order of two
            // words is the byte order of their eight bytes.
            if x != y { return x.bigEndian < y.bigEndian ? -1 : 1 }
            i += 8
        }
        while i < common {
            if a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
            i += 1
        }
        return aCount == bCount ? 0 : (aCount < bCount ? -1 : 1)
    }

    /// The first eight bytes, big-endian and zero-padded: comparing these integers orders most keys without
    /// touching the text again. When two prefixes are equal, the keys agree on as many of their first eight bytes
    /// as both have, so ``compare(_:count:_:count:from:)`` can start at 8 (it falls back to the lengths when a key
    /// is shorter, which orders `"a"` before `"a\u0000"`).
    @inlinable @inline(__always)
    package static func prefix(_ base: UnsafePointer<UInt8>, count: Int) -> UInt64 {
        if count >= 8 { return UnsafeRawPointer(base).loadUnaligned(as: UInt64.self).bigEndian }
        var value: UInt64 = 0
        for i in 0..<count { value |= UInt64(base[i]) << (56 - 8 * i) }
        return value
    }
}
