import Crypto

import struct Foundation.Data

/// Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the bytes that the
/// base64 after `whsec_` encodes, so any standard-webhooks library verifies them.
package struct WebhookSigner: Sendable {
    /// The key bytes (`SymmetricKey` is not `Sendable`; one is made per signature).
    private let key: [UInt8]

    package static let secretPrefix = "whsec_"

    /// Nil when the secret is not `whsec_` followed by base64.
    package init?(secret: String) {
        guard secret.hasPrefix(Self.secretPrefix),
            let bytes = Data(base64Encoded: String(secret.dropFirst(Self.secretPrefix.count))), !bytes.isEmpty
        else { return nil }
        key = Array(bytes)
    }

    package func signature(id: String, timestamp: Int64, body: [UInt8]) -> String {
        var authenticator = HMAC<SHA256>(key: SymmetricKey(data: key))
        authenticator.update(data: Array("\(id).\(timestamp).".utf8))
        authenticator.update(data: body)
        return "v1," + Data(authenticator.finalize()).base64EncodedString()
    }
}
