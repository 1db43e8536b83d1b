/// Why an adapter refused a request: a stable code (which decides the HTTP status) and a precise detail.
///
/// Errors are values with codes, not strings: the HTTP layer and the normalize tool map codes to problem
/// documents in one place, and tests assert on codes rather than prose.
public struct AdapterError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The problem code, used in `urn:fieldgate:problem:<code>`.
        public let rawValue: String
        /// The HTTP status the code answers with.
        public let status: Int
        /// A short human title for the problem document.
        public let title: String
        /// Whether the request is kept for replay (quarantined) when it is refused with this code. Adapters
        /// see only authenticated requests, so their refusals are kept, unless the code is itself an
        /// authentication failure (CONTRACT §1: 401 is counted, never stored).
        public let quarantinesRequest: Bool

        public init(_ rawValue: String, status: Int, title: String, quarantinesRequest: Bool = true) {
            self.rawValue = rawValue
            self.status = status
            self.title = title
            self.quarantinesRequest = quarantinesRequest
        }

        public var description: String { rawValue }

        // 400: the bytes are not what the media type promises.
        public static let invalidUTF8 = Code("invalid-utf8", status: 400, title: "Body is not UTF-8")
        public static let jsonSyntax = Code("json-syntax", status: 400, title: "Malformed JSON")
        public static let notAnObject = Code("not-an-object", status: 400, title: "JSON body is not an object")
        public static let formSyntax = Code("form-syntax", status: 400, title: "Malformed form body")
        public static let dataNotJSON = Code("data-not-json", status: 400, title: "Form field data is not JSON")
        // 401 after parsing: the body names another account.
        public static let accountMismatch = Code(
            "account-mismatch",
            status: 401,
            title: "Account mismatch",
            quarantinesRequest: false
        )
        // 422: well-formed, but not an event the gateway can use.
        public static let unsupportedRoute = Code("unsupported-route", status: 422, title: "Unsupported route")
        public static let missingField = Code("missing-field", status: 422, title: "Missing field")
        public static let invalidField = Code("invalid-field", status: 422, title: "Invalid field")
        public static let unknownAction = Code("unknown-action", status: 422, title: "Unknown action")
        public static let unknownEvent = Code("unknown-event", status: 422, title: "Unknown event")

        /// Every code above, for the gateway's catalogue of problem codes.
        public static let all: [Code] = [
            invalidUTF8, jsonSyntax, notAnObject, formSyntax, dataNotJSON, accountMismatch, unsupportedRoute,
            missingField, invalidField, unknownAction, unknownEvent,
        ]
    }

    public var code: Code
    /// What exactly was wrong: which field, which byte offset. Never contains secrets.
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// Maps a JSON syntax error to `invalid-utf8`, `json-syntax` with a byte offset; `context` names the field
    /// when the JSON was nested in something else (Hellotracks' `data`).
    public init(_ error: JSONSyntaxError, context: String? = nil) {
        let code: Code =
            if error.reason == .invalidUTF8 { .invalidUTF8 } else if context != nil { .dataNotJSON } else {
                .jsonSyntax
            }
        let prefix = context.map { "\($0): " } ?? ""
        self.init(code, prefix + error.description)
    }

    public static func missing(_ field: String) -> AdapterError {
        AdapterError(.missingField, "required field '\(field)' is missing or empty")
    }

    public var description: String { "\(code.rawValue): \(detail)" }
}
