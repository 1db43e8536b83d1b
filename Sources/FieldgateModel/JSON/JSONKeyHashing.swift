/// Hashing of object keys for the duplicate-key check and ``JSONMemberIndex``.
///
/// The keys come from the request, so an unseeded hash (FNV-1a, as this used once) lets a sender pick keys that
/// all land in one bucket and turn every table into a list: 256 colliding keys cost 32,640 comparisons per
/// object. The standard library's `Hasher` (SipHash-1-3) is seeded randomly per process, so no body can be
/// built to collide on a gateway it has not seen.
enum JSONKeyHashing {
    @inline(__always)
    static func hash(_ key: JSONKeySlice) -> Int {
        hash(UnsafeRawBufferPointer(start: key.start, count: key.count))
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return hasher.finalize()
    }
}
