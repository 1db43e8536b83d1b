/// One object key as the bytes it decodes to: unescaped keys point into the document, escaped ones into scratch
/// space where they were decoded once.
struct JSONKeySlice {
    var start: UnsafePointer<UInt8>
    var count: Int

    /// See ``RawBytes/prefix(_:count:)``.
    @inline(__always)
    var prefix: UInt64 { RawBytes.prefix(start, count: count) }

    @inline(__always)
    func equals(_ other: JSONKeySlice) -> Bool {
        count == other.count && RawBytes.equal(start, other.start, count: count)
    }

    /// Bytewise order after equal prefixes (see ``RawBytes/prefix(_:count:)``).
    @inline(__always)
    func precedesAfterEqualPrefix(_ other: JSONKeySlice) -> Bool {
        RawBytes.compare(start, count: count, other.start, count: other.count, from: 8) < 0
    }
}

/// The keys of one object, collected for the duplicate-key check and the canonical sort.
///
/// Both run on every object of every request, with keys a sender chooses: how many, in which order, how long
/// their common prefixes are, whether they are escaped. So both are O(n log n) in the object's size whatever the
/// keys: the duplicate check hashes with a per-process seed (``JSONKeyHashing``), the sort is the standard
/// library's O(n log n) sort on eight-byte prefixes with a word-at-a-time comparison behind them, and escaped keys
/// are decoded once into one scratch buffer rather than once per comparison.
enum JSONKeyOrder {
    /// Calls `body` with the tape indices of the object's keys in document order and, at the same positions, the
    /// bytes each key decodes to. Everything lives in temporary storage for the duration of the call.
    static func withKeys<Result>(
        ofObjectAt objectIndex: Int,
        bytes: UnsafeBufferPointer<UInt8>,
        tape: UnsafeBufferPointer<JSONToken>,
        _ body: (UnsafeMutableBufferPointer<Int>, UnsafeMutableBufferPointer<JSONKeySlice>) -> Result
    ) -> Result {
        let count = Int(tape[objectIndex].count)
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: max(count, 1)) { keyStorage in
            let keys = UnsafeMutableBufferPointer(rebasing: keyStorage[..<count])
            var escapedLength = 0
            var cursor = objectIndex + 1
            for position in 0..<count {
                keys[position] = cursor
                let token = tape[cursor]
                if token.escaped { escapedLength += Int(token.end - token.start) }
                // The key's value follows it; its `next` is the following key.
                cursor = Int(tape[cursor + 1].next)
            }
            return withUnsafeTemporaryAllocation(of: JSONKeySlice.self, capacity: max(count, 1)) { sliceStorage in
                let slices = UnsafeMutableBufferPointer(rebasing: sliceStorage[..<count])
                return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(escapedLength, 1)) { scratch in
                    let base = bytes.baseAddress!
                    var used = 0
                    for position in 0..<count {
                        let token = tape[keys[position]]
                        let length = Int(token.end - token.start)
                        if token.escaped {
                            let start = scratch.baseAddress! + used
                            let decoded = JSONStringDecoding.decode(
                                bytes,
                                token,
                                into: start,
                                capacity: escapedLength - used
                            )
                            used += decoded
                            slices.initializeElement(at: position, to: JSONKeySlice(start: start, count: decoded))
                        } else {
                            slices.initializeElement(
                                at: position,
                                to: JSONKeySlice(start: base + Int(token.start), count: length)
                            )
                        }
                    }
                    assert(used <= escapedLength)
                    return body(keys, slices)
                }
            }
        }
    }

    /// The position (in document order) of the first key that repeats an earlier one, or nil.
    ///
    /// Up to eight keys compare every pair (at most 28 comparisons, each bounded by the keys' own length); above
    /// that an open-addressing table hashed with the seeded ``JSONKeyHashing/hash(_:)`` makes the check linear
    /// in expectation whatever keys the sender chose.
    static func firstRepeatedKey(_ slices: UnsafeMutableBufferPointer<JSONKeySlice>) -> Int? {
        let count = slices.count
        if count <= 8 {
            for i in 1..<max(count, 1) {
                for j in 0..<i where slices[j].equals(slices[i]) { return i }
            }
            return nil
        }
        var capacity = 16
        while capacity < count * 2 { capacity <<= 1 }
        let mask = capacity - 1
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: capacity) { table -> Int? in
            table.initialize(repeating: -1)
            for position in 0..<count {
                let key = slices[position]
                var slot = JSONKeyHashing.hash(key) & mask
                while table[slot] >= 0 {
                    if slices[Int(table[slot])].equals(key) { return position }
                    slot = (slot + 1) & mask
                }
                table[slot] = Int32(position)
            }
            return nil
        }
    }

    /// Sorts `keys` (tape indices) into the byte order of their decoded text, `slices` being those texts at
    /// the same positions. Insertion sort for small objects (the usual webhook object), the standard library's
    /// O(n log n) sort above that; both compare eight-byte prefixes first and the rest of two keys only when
    /// their prefixes tie. Keys are distinct (the parser refused repeats), so the order is total.
    static func sort(_ keys: UnsafeMutableBufferPointer<Int>, by slices: UnsafeMutableBufferPointer<JSONKeySlice>) {
        let count = keys.count
        guard count > 1 else { return }
        if count <= 16 {
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: count) { prefixes in
                for i in 0..<count { prefixes[i] = slices[i].prefix }
                for i in 1..<count {
                    let key = keys[i]
                    let slice = slices[i]
                    let keyPrefix = prefixes[i]
                    var j = i
                    while j > 0 {
                        let other = prefixes[j - 1]
                        let precedes =
                            keyPrefix != other ? keyPrefix < other : slice.precedesAfterEqualPrefix(slices[j - 1])
                        guard precedes else { break }
                        keys[j] = keys[j - 1]
                        slices[j] = slices[j - 1]
                        prefixes[j] = other
                        j -= 1
                    }
                    keys[j] = key
                    slices[j] = slice
                    prefixes[j] = keyPrefix
                }
            }
            return
        }
        withUnsafeTemporaryAllocation(of: SortEntry.self, capacity: count) { storage in
            var entries = storage
            for i in 0..<count {
                entries.initializeElement(at: i, to: SortEntry(prefix: slices[i].prefix, position: Int32(i)))
            }
            entries.sort { a, b in
                a.prefix != b.prefix
                    ? a.prefix < b.prefix
                    : slices[Int(a.position)].precedesAfterEqualPrefix(slices[Int(b.position)])
            }
            // `keys` is rewritten from the original order, which `slices` still holds.
            withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { original in
                _ = original.initialize(fromContentsOf: keys)
                for i in 0..<count { keys[i] = original[Int(entries[i].position)] }
            }
        }
    }

    struct SortEntry {
        var prefix: UInt64
        var position: Int32
    }
}
