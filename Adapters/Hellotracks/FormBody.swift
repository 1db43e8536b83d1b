import FieldgateModel

/// An `application/x-www-form-urlencoded` body, decoded (`+` is a space, `%XX` a byte) and checked for UTF-8.
///
/// The whole body is decoded once into one buffer, its pairs back to back, and a pair is two integers into it:
/// no allocation per pair, so a megabyte of `a&a&a&…` costs eight bytes per pair and not an array or two each
/// (which once turned a 1 MiB form into tens of megabytes). Values stay bytes: `data` (the bulk of every
/// callback) goes to the JSON parser and the canonical content without a round trip through `String`.
struct FormBody {
    /// Where a pair starts in ``decoded`` and how long its key is; its value runs to the next pair's start.
    struct Pair {
        var start: UInt32
        var keyLength: UInt32
    }

    /// The decoded pairs, back to back: key, then value.
    private(set) var decoded: [UInt8]
    /// In body order; empty pairs (`&&`) are skipped.
    private(set) var pairs: [Pair]
    /// The first pair of each of ``singletonKeys``, or -1.
    private var singletons: [Int] = [-1, -1, -1, -1]

    /// Parameters the adapter reads; each may appear at most once, or the request is ambiguous.
    static let singletonKeys: [String] = ["account", "id", "action", "data"]

    init(parsing bytes: [UInt8]) throws(AdapterError) {
        if let offset = UTF8Validation.firstInvalidByteOffset(in: bytes) {
            throw AdapterError(.invalidUTF8, "the form body is not UTF-8 (byte offset \(offset))")
        }
        // Decoding never lengthens the text, so the body's length is room enough for all of it.
        var pairs: [Pair] = []
        var repeated: Int?
        var singletons = [-1, -1, -1, -1]
        var failure: AdapterError?
        let decoded = [UInt8](unsafeUninitializedCapacity: max(bytes.count, 1)) { output, written in
            written = 0
            bytes.withUnsafeBufferPointer { bytes in
                var start = 0
                while start <= bytes.count {
                    let end = Self.firstIndex(of: UInt8(ascii: "&"), in: bytes, from: start, to: bytes.count)
                    if end > start {
                        let separator = Self.firstIndex(of: UInt8(ascii: "="), in: bytes, from: start, to: end)
                        let pairStart = written
                        do throws(AdapterError) {
                            let keyLength = try Self.decode(bytes, start, separator, into: output, at: &written)
                            if separator < end {
                                _ = try Self.decode(bytes, separator + 1, end, into: output, at: &written)
                            }
                            if let singleton = Self.singleton(
                                UnsafeBufferPointer(rebasing: output[pairStart..<pairStart + keyLength])
                            ) {
                                if singletons[singleton] < 0 {
                                    singletons[singleton] = pairs.count
                                } else if repeated == nil || singleton < repeated! {
                                    repeated = singleton
                                }
                            }
                            pairs.append(Pair(start: UInt32(pairStart), keyLength: UInt32(keyLength)))
                        } catch {
                            failure = error
                            return
                        }
                    }
                    start = end + 1
                }
            }
        }
        if let failure { throw failure }
        if let repeated {
            throw AdapterError(.formSyntax, "form parameter '\(Self.singletonKeys[repeated])' is given more than once")
        }
        self.decoded = decoded
        self.pairs = pairs
        self.singletons = singletons
    }

    /// Which of ``singletonKeys`` `key` is, if any.
    static func singleton(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        guard (2...7).contains(key.count) else { return nil }
        for (index, name) in singletonKeys.enumerated() where key.elementsEqual(name.utf8) { return index }
        return nil
    }

    /// The bytes of pair `index`'s key and value.
    func withPair<Result>(
        _ index: Int,
        _ body: (_ key: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result {
        let pair = pairs[index]
        let start = Int(pair.start)
        let keyEnd = start + Int(pair.keyLength)
        let end = index + 1 < pairs.count ? Int(pairs[index + 1].start) : decoded.count
        return decoded.withUnsafeBufferPointer { decoded in
            body(
                UnsafeBufferPointer(rebasing: decoded[start..<keyEnd]),
                UnsafeBufferPointer(rebasing: decoded[keyEnd..<end])
            )
        }
    }

    /// The first pair whose key is `key`.
    func pairIndex(_ key: String) -> Int? {
        if let singleton = Self.singletonKeys.firstIndex(of: key) {
            return singletons[singleton] >= 0 ? singletons[singleton] : nil
        }
        return pairs.indices.first { index in withPair(index) { pairKey, _ in pairKey.elementsEqual(key.utf8) } }
    }

    /// The decoded value's bytes of the parameter `key`.
    func bytes(_ key: String) -> [UInt8]? {
        pairIndex(key).map { index in withPair(index) { _, value in Array(value) } }
    }

    /// The decoded value of the parameter `key` as text.
    subscript(key: String) -> String? {
        pairIndex(key).map { index in withPair(index) { _, value in String(decoding: value, as: UTF8.self) } }
    }

    /// Pair indices ordered by key, then value, bytewise: the canonical content's order. O(n log n) comparisons,
    /// each eight bytes at a time.
    func sortedPairIndices() -> [Int] {
        decoded.withUnsafeBufferPointer { decoded in
            let base = decoded.baseAddress!
            func bounds(_ index: Int) -> (start: Int, keyEnd: Int, end: Int) {
                let pair = pairs[index]
                let start = Int(pair.start)
                return (
                    start, start + Int(pair.keyLength),
                    index + 1 < pairs.count ? Int(pairs[index + 1].start) : decoded.count
                )
            }
            return pairs.indices.sorted { a, b in
                let x = bounds(a)
                let y = bounds(b)
                let byKey = RawBytes.compare(
                    base + x.start,
                    count: x.keyEnd - x.start,
                    base + y.start,
                    count: y.keyEnd - y.start
                )
                if byKey != 0 { return byKey < 0 }
                return RawBytes.compare(
                    base + x.keyEnd,
                    count: x.end - x.keyEnd,
                    base + y.keyEnd,
                    count: y.end - y.keyEnd
                )
                    < 0
            }
        }
    }

    static func firstIndex(of byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        var i = start
        while i < end && bytes[i] != byte { i += 1 }
        return i
    }

    /// Percent-decodes `bytes[start..<end]` into `output` from `written` on and returns the decoded length; the
    /// result must be UTF-8. `output` has room for the whole encoded body, and decoding never lengthens a text.
    static func decode(
        _ bytes: UnsafeBufferPointer<UInt8>,
        _ start: Int,
        _ end: Int,
        into output: UnsafeMutableBufferPointer<UInt8>,
        at written: inout Int
    ) throws(AdapterError) -> Int {
        let first = written
        var needsValidation = false
        var i = start
        while i < end {
            assert(written < output.count, "decoded form overran its buffer")
            let byte = bytes[i]
            if byte == UInt8(ascii: "%") {
                guard i + 2 < end, let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) else {
                    throw AdapterError(.formSyntax, "malformed percent escape at byte offset \(i)")
                }
                let decoded = high << 4 | low
                needsValidation = needsValidation || decoded >= 0x80
                output.initializeElement(at: written, to: decoded)
                i += 3
            } else {
                output.initializeElement(at: written, to: byte == UInt8(ascii: "+") ? 0x20 : byte)
                i += 1
            }
            written += 1
        }
        if needsValidation,
            let offset = UTF8Validation.firstInvalidByteOffset(
                in: UnsafeBufferPointer(rebasing: output[first..<written])
            )
        {
            let name = String(
                decoding: UnsafeBufferPointer(rebasing: bytes[start..<min(end, start + 40)]),
                as: UTF8.self
            )
            throw AdapterError(
                .invalidUTF8,
                "form text '\(name)' is not UTF-8 after percent-decoding (decoded byte offset \(offset))"
            )
        }
        return written - first
    }
}
