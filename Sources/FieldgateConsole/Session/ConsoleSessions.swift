import Crypto
import FieldgateModel

import struct Foundation.Data

/// One signed-in browser: what the session cookie carries, verified.
struct ConsoleSession: Sendable, Equatable {
    /// Random, per sign-in: the CSRF token is derived from it.
    var nonce: String
    var issuedAt: UTCTimestamp
    var expiresAt: UTCTimestamp
}

/// Sessions without server-side state: a cookie signed with a key derived from the admin token.
///
/// Several instances behind a load balancer (CONTRACT §8) share nothing but the store and the configuration, so a
/// session must verify on any of them: every instance derives the same keys from `admin.token` (HKDF-SHA256), and
/// a cookie is `v1.<issued ms>.<expires ms>.<nonce>.<HMAC-SHA256>`. Changing the admin token ends every session.
/// The CSRF token of a session is an HMAC of its nonce under a second derived key.
struct ConsoleSessions: Sendable {
    static let cookieName = "fieldgate_session"
    /// How long a sign-in lasts; there is no sliding renewal, so a stolen cookie is good for at most this long.
    static let lifetime = Duration.seconds(12 * 3600)

    /// Key bytes (`SymmetricKey` is not `Sendable`; one is made for each use).
    private let sessionKeyBytes: [UInt8]
    private let csrfKeyBytes: [UInt8]
    private var sessionKey: SymmetricKey { SymmetricKey(data: sessionKeyBytes) }
    private var csrfKey: SymmetricKey { SymmetricKey(data: csrfKeyBytes) }
    private let adminToken: String

    init(adminToken: String) {
        self.adminToken = adminToken
        let material = SymmetricKey(data: Data(adminToken.utf8))
        let salt = Data("fieldgate console".utf8)
        sessionKeyBytes = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: material,
            salt: salt,
            info: Data("session cookie v1".utf8),
            outputByteCount: 32
        ).withUnsafeBytes { Array($0) }
        csrfKeyBytes = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: material,
            salt: salt,
            info: Data("csrf token v1".utf8),
            outputByteCount: 32
        ).withUnsafeBytes { Array($0) }
    }

    /// Whether `token` is the admin token, compared in constant time.
    func acceptsToken(_ token: String) -> Bool {
        SecretComparison.matches(token, adminToken)
    }

    /// A new session starting at `now`.
    func issue(at now: UTCTimestamp) -> (session: ConsoleSession, cookie: String) {
        let nonce = SymmetricKey(size: .bits128).withUnsafeBytes { Self.hex(Array($0)) }
        let session = ConsoleSession(
            nonce: nonce,
            issuedAt: now,
            expiresAt: UTCTimestamp(
                millisecondsSinceEpoch: now.millisecondsSinceEpoch + Self.lifetime.components.seconds * 1000
            )
        )
        let payload =
            "v1.\(session.issuedAt.millisecondsSinceEpoch).\(session.expiresAt.millisecondsSinceEpoch).\(nonce)"
        let mac = HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: sessionKey)
        return (session, payload + "." + Self.base64URL(Array(mac)))
    }

    /// The session a cookie value stands for, if its signature holds and it has not expired.
    func verify(_ cookie: String, at now: UTCTimestamp) -> ConsoleSession? {
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "v1", let issued = Int64(parts[1]), let expires = Int64(parts[2]),
            parts[3].utf8.count == 32, parts[3].utf8.allSatisfy(Self.isHexDigit),
            let mac = Self.bytes(base64URL: String(parts[4]))
        else { return nil }
        let payload = parts[0..<4].joined(separator: ".")
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data(payload.utf8), using: sessionKey)
        else { return nil }
        guard now.millisecondsSinceEpoch < expires, issued <= now.millisecondsSinceEpoch + 60_000 else { return nil }
        return ConsoleSession(
            nonce: String(parts[3]),
            issuedAt: UTCTimestamp(millisecondsSinceEpoch: issued),
            expiresAt: UTCTimestamp(millisecondsSinceEpoch: expires)
        )
    }

    /// The token every form of this session carries (`csrf`).
    func csrfToken(for session: ConsoleSession) -> String {
        Self.base64URL(Array(HMAC<SHA256>.authenticationCode(for: Data(session.nonce.utf8), using: csrfKey)))
    }

    /// Whether `token` is this session's CSRF token (constant time).
    func acceptsCSRFToken(_ token: String?, for session: ConsoleSession) -> Bool {
        guard let token, let mac = Self.bytes(base64URL: token) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data(session.nonce.utf8), using: csrfKey)
    }

    // MARK: Encoding

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var output: [UInt8] = []
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
    }

    static func bytes(base64URL text: String) -> Data? {
        guard !text.isEmpty, text.utf8.count <= 128 else { return nil }
        var base64 = text.replacing("-", with: "+").replacing("_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
