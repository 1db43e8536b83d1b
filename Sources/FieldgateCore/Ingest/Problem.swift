public import FieldgateModel

/// An RFC 9457 problem document: every rejection the gateway answers with.
public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable code; the `type` is `urn:fieldgate:problem:<code>`.
    public var code: String
    public var status: Int
    public var title: String
    /// Precise and free of secrets: which header, which field, which byte offset.
    public var detail: String

    public init(code: String, status: Int, title: String, detail: String) {
        self.code = code
        self.status = status
        self.title = title
        self.detail = detail
    }

    public init(_ error: AdapterError) {
        self.init(code: error.code.rawValue, status: error.code.status, title: error.code.title, detail: error.detail)
    }

    public var type: String { "urn:fieldgate:problem:\(code)" }

    public static let mediaType = "application/problem+json"

    public var json: JSONValue {
        .object([
            "type": .string(type), "title": .string(title), "status": .integer(status), "detail": .string(detail),
            "code": .string(code),
        ])
    }

    public var description: String { "\(status) \(code): \(detail)" }

    // MARK: Gateway-level problems (the adapters' own are in AdapterError.Code)

    public static func notFound(_ path: String) -> Problem {
        Problem(code: "not-found", status: 404, title: "Not found", detail: "no route for path '\(path)'")
    }

    public static func methodNotAllowed(_ method: String) -> Problem {
        Problem(
            code: "method-not-allowed",
            status: 405,
            title: "Method not allowed",
            detail: "ingest routes accept POST only, not \(method)"
        )
    }

    public static func bodyTooLarge(_ detail: String) -> Problem {
        Problem(code: "body-too-large", status: 413, title: "Body too large", detail: detail)
    }

    public static func headersTooLarge(_ size: Int, limit: Int) -> Problem {
        Problem(
            code: "headers-too-large",
            status: 431,
            title: "Request header fields too large",
            detail: "the header block is \(size) bytes; the limit is \(limit)"
        )
    }

    public static func badFraming(_ detail: String) -> Problem {
        Problem(code: "bad-framing", status: 400, title: "Ambiguous message framing", detail: detail)
    }

    public static func unknownTenant(vendor: String, tenant: String) -> Problem {
        Problem(
            code: "unknown-tenant",
            status: 401,
            title: "Unknown tenant",
            detail: "no \(vendor) tenant '\(tenant)' is configured"
        )
    }

    public static func badCredentials(_ failure: CredentialFailure) -> Problem {
        Problem(code: "bad-credentials", status: 401, title: "Bad credentials", detail: failure.detail)
    }

    public static func unsupportedMediaType(_ detail: String) -> Problem {
        Problem(code: "unsupported-media-type", status: 415, title: "Unsupported media type", detail: detail)
    }

    public static let emptyBody = Problem(
        code: "empty-body",
        status: 400,
        title: "Empty body",
        detail: "the request has no body; a webhook call-out must carry its event"
    )

    public static func storeUnavailable(_ detail: String) -> Problem {
        Problem(code: "store-unavailable", status: 503, title: "Store unavailable", detail: detail)
    }
}
