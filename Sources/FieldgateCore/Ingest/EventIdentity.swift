import Crypto

/// The dedupe key of a delivery (CONTRACT §2): `vendor \n tenant \n route-suffix \n canonical-content`, kept
/// as its SHA-256 digest. The same delivery has the same key on every instance, whatever its formatting.
package struct DedupeKey: Sendable, Hashable, CustomStringConvertible {
    /// The full SHA-256 digest, lowercase hex (64 characters).
    package let digest: String
    /// The event ID: the first 16 bytes of the digest, lowercase hex (32 characters).
    package let eventID: String

    package init(vendor: String, tenant: String, routeSuffix: String, canonicalContent: [UInt8]) {
        var hasher = SHA256()
        func update(_ text: String) {
            var text = text
            text.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
            withUnsafeBytes(of: UInt8(0x0A)) { hasher.update(bufferPointer: $0) }
        }
        update(vendor)
        update(tenant)
        update(routeSuffix)
        canonicalContent.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        let hash = hasher.finalize()
        digest = hash.withUnsafeBytes { Hex.encode($0) }
        eventID = hash.withUnsafeBytes { Hex.encode($0.prefix(16)) }
    }

    package init(digest: String) {
        self.digest = digest
        eventID = String(digest.prefix(32))
    }

    package var description: String { digest }

    /// The ID of the `occurrence`-th acceptance of this key (2, 3, …) after earlier ones expired.
    ///
    /// A genuine repeat after the dedupe window (TechLink sends no event ID, so the same transition twice has the
    /// same content) is a new event and must not reuse the first one's ID; the first acceptance keeps the
    /// contract's ID so that every instance agrees on it.
    package func eventID(occurrence: Int) -> String {
        guard occurrence > 1 else { return eventID }
        let digest = SHA256.hash(data: Array("\(self.digest)\n\(occurrence)".utf8))
        return Hex.encode(Array(digest).prefix(16))
    }
}

enum Hex {
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    static func encode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { output in
            var index = 0
            for byte in bytes {
                output[index] = digits[Int(byte >> 4)]
                output[index + 1] = digits[Int(byte & 0x0F)]
                index += 2
            }
            return index
        }
    }
}
