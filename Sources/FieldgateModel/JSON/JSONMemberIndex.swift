/// An object's keys hashed once, for mappings that read dozens of fields of a wide object: a Hellotracks job has
/// ~45 members and its mapping makes ~35 lookups, which a linear scan turns into ~800 key comparisons.
///
/// Lookups answer exactly as ``JSONElement/subscript(_:)`` does. Small objects (where a scan is as fast as
/// hashing) are not indexed and fall back to the scan. The keys are the sender's, so the table hashes with the
/// per-process seeded ``JSONKeyHashing``: no body can make its keys share a bucket. Escaped keys are hashed by
/// what they decode to and compared by decoding them again, only when their hash matched.
public struct JSONMemberIndex: JSONMemberLookup, Sendable {
    /// Below this many members the scan wins.
    public static let minimumIndexedCount = 12

    public let object: JSONElement
    /// Open addressing: the key's tape index + 1, or 0 for an empty slot. Empty when not indexed.
    private var slots: [Int32]
    private let mask: Int

    public init(_ object: JSONElement) {
        self.object = object
        let token = object.token
        let document = object.document
        guard token.kind == .object, token.count >= Self.minimumIndexedCount else {
            slots = []
            mask = 0
            return
        }
        var capacity = 16
        while capacity < Int(token.count) * 2 { capacity <<= 1 }
        let mask = capacity - 1
        self.mask = mask
        slots = document.tape.withUnsafeBufferPointer { tape in
            document.bytes.withUnsafeBufferPointer { bytes in
                JSONKeyOrder.withKeys(ofObjectAt: object.index, bytes: bytes, tape: tape) { keys, slices in
                    [Int32](unsafeUninitializedCapacity: capacity) { slots, initialized in
                        slots.initialize(repeating: 0)
                        initialized = capacity
                        for position in 0..<keys.count {
                            var slot = JSONKeyHashing.hash(slices[position]) & mask
                            while slots[slot] != 0 { slot = (slot + 1) & mask }
                            slots[slot] = Int32(keys[position] + 1)
                        }
                    }
                }
            }
        }
    }

    /// The value of `key` when the object has it.
    public subscript(key: String) -> JSONElement? {
        guard !slots.isEmpty else { return object[key] }
        var key = key
        let document = object.document
        let found: Int? = key.withUTF8 { keyBytes in
            slots.withUnsafeBufferPointer { slots in
                document.tape.withUnsafeBufferPointer { tape in
                    document.bytes.withUnsafeBufferPointer { bytes in
                        var slot = JSONKeyHashing.hash(UnsafeRawBufferPointer(keyBytes)) & mask
                        while true {
                            let entry = Int(slots[slot])
                            if entry == 0 { return nil }
                            let token = tape[entry - 1]
                            if token.escaped {
                                if JSONStringDecoding.equals(bytes, token, keyBytes) { return entry }
                            } else if Int(token.end - token.start) == keyBytes.count,
                                keyBytes.isEmpty
                                    || RawBytes.equal(
                                        bytes.baseAddress! + Int(token.start),
                                        keyBytes.baseAddress!,
                                        count: keyBytes.count
                                    )
                            {
                                return entry
                            }
                            slot = (slot + 1) & mask
                        }
                    }
                }
            }
        }
        return found.map { JSONElement(document: document, index: $0) }
    }
}
