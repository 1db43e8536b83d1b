import Crypto

/// The dedupe key of a delivery (CONTRACT §2): `vendor \n tenant \n route-suffix \n canonical-content`, kept
/// as its SHA-256 digest. The same delivery has the same key on every instance, whatever its formatting.
public struct DedupeKey: Sendable, Hashable, CustomStringConvertible {
    /// The full SHA-256 digest, lowercase hex (64 characters).
    public let digest: String
    /// The event ID: the first 16 bytes of the digest, lowercase hex (32 characters).
    public let eventID: String

    public init(vendor: String, tenant: String, routeSuffix: String, canonicalContent: [UInt8]) {
        var hasher = SHA256()
        hasher.update(data: Array(vendor.utf8))
        hasher.update(data: [0x0A])
        hasher.update(data: Array(tenant.utf8))
        hasher.update(data: [0x0A])
        hasher.update(data: Array(routeSuffix.utf8))
        hasher.update(data: [0x0A])
        hasher.update(data: canonicalContent)
        let bytes = Array(hasher.finalize())
        digest = Hex.encode(bytes)
        eventID = Hex.encode(bytes.prefix(16))
    }

    public init(digest: String) {
        self.digest = digest
        eventID = String(digest.prefix(32))
    }

    public var description: String { digest }

    /// The ID of the `occurrence`-th acceptance of this key (2, 3, …) after earlier ones expired.
    ///
    /// A genuine repeat after the dedupe window (TechLink sends no event ID, so the same transition twice has the
    /// same content) is a new event and must not reuse the first one's ID; the first acceptance keeps the
    /// contract's ID so that every instance agrees on it.
    public func eventID(occurrence: Int) -> String {
        guard occurrence > 1 else { return eventID }
        let digest = SHA256.hash(data: Array("\(self.digest)\n\(occurrence)".utf8))
        return Hex.encode(Array(digest).prefix(16))
    }
}

enum Hex {
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    static func encode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: output, as: UTF8.self)
    }
}
