package import FieldgateModel

/// An RFC 9457 problem document: every rejection the gateway answers with.
package struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable code; the `type` is `urn:fieldgate:problem:<code>`.
    package var code: String
    package var status: Int
    package var title: String
    /// Precise and free of secrets: which header, which field, which byte offset.
    package var detail: String

    package init(code: String, status: Int, title: String, detail: String) {
        self.code = code
        self.status = status
        self.title = title
        self.detail = detail
    }

    package init(_ error: AdapterError) {
        self.init(code: error.code.rawValue, status: error.code.status, title: error.code.title, detail: error.detail)
    }

    package var type: String { "urn:fieldgate:problem:\(code)" }

    package static let mediaType = "application/problem+json"

    package var json: JSONValue {
        .object([
            "type": .string(type), "title": .string(title), "status": .integer(status), "detail": .string(detail),
            "code": .string(code),
        ])
    }

    package var description: String { "\(status) \(code): \(detail)" }

    // MARK: Gateway-level problems (the adapters' own are in AdapterError.Code)

    package static func notFound(_ path: String) -> Problem {
        Problem(code: "not-found", status: 404, title: "Not found", detail: "no route for path '\(path)'")
    }

    package static func methodNotAllowed(_ method: String) -> Problem {
        Problem(
            code: "method-not-allowed",
            status: 405,
            title: "Method not allowed",
            detail: "ingest routes accept POST only, not \(method)"
        )
    }

    package static func bodyTooLarge(_ detail: String) -> Problem {
        Problem(code: "body-too-large", status: 413, title: "Body too large", detail: detail)
    }

    package static func headersTooLarge(_ size: Int, limit: Int) -> Problem {
        Problem(
            code: "headers-too-large",
            status: 431,
            title: "Request header fields too large",
            detail: "the header block is \(size) bytes; the limit is \(limit)"
        )
    }

    package static func badFraming(_ detail: String) -> Problem {
        Problem(code: "bad-framing", status: 400, title: "Ambiguous message framing", detail: detail)
    }

    package static func unknownTenant(vendor: String, tenant: String) -> Problem {
        Problem(
            code: "unknown-tenant",
            status: 401,
            title: "Unknown tenant",
            detail: "no \(vendor) tenant '\(tenant)' is configured"
        )
    }

    package static func badCredentials(_ failure: CredentialFailure) -> Problem {
        Problem(code: "bad-credentials", status: 401, title: "Bad credentials", detail: failure.detail)
    }

    package static func unsupportedMediaType(_ detail: String) -> Problem {
        Problem(code: "unsupported-media-type", status: 415, title: "Unsupported media type", detail: detail)
    }

    package static let emptyBody = Problem(
        code: "empty-body",
        status: 400,
        title: "Empty body",
        detail: "the request has no body; a webhook call-out must carry its event"
    )

    package static func storeUnavailable(_ detail: String) -> Problem {
        Problem(code: "store-unavailable", status: 503, title: "Store unavailable", detail: detail)
    }
}
