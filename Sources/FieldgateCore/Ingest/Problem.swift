package import FieldgateModel

/// An RFC 9457 problem document: every rejection the gateway answers with.
package struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
    package var code: Code
    /// Precise and free of secrets: which header, which field, which byte offset.
    package var detail: String
    /// When the client should try again (`Retry-After`): set on 503s that mean "not now" rather than "never".
    package var retryAfter: Duration?

    package init(_ code: Code, _ detail: String, retryAfter: Duration? = nil) {
        self.code = code
        self.detail = detail
        self.retryAfter = retryAfter
    }

    package init(_ error: AdapterError) {
        self.init(Code(error.code), error.detail)
    }

    /// A problem read back from a store: the code from the catalogue when it is one of today's, else as it was
    /// stored (a code an older version wrote keeps its status and title).
    package init(storedCode rawValue: String, status: Int, title: String, detail: String) {
        self.init(Code.named(rawValue) ?? Code(rawValue, status: status, title: title), detail)
    }

    package var status: Int { code.status }
    package var title: String { code.title }
    package var type: String { "urn:fieldgate:problem:\(code.rawValue)" }

    /// Whether a request refused with this problem after authentication is kept for replay.
    package var quarantinesRequest: Bool { code.quarantinesRequest }

    package static let mediaType = "application/problem+json"

    package var json: JSONValue {
        .object([
            "type": .string(type), "title": .string(title), "status": .integer(status), "detail": .string(detail),
            "code": .string(code.rawValue),
        ])
    }

    package var description: String { "\(status) \(code.rawValue): \(detail)" }
}

extension Problem {
    /// A problem's stable identity: the `code` member and the `type` URN, the status it answers with, its title,
    /// and whether it quarantines the request. Codes compare by their raw value.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        package let rawValue: String
        package let status: Int
        package let title: String
        /// CONTRACT §1: a request rejected with 400, 415 or 422 after it passed authentication is quarantined
        /// (its bytes, redacted headers and reason are stored for replay); 401 and 413 are only counted. Codes
        /// answered before authentication never quarantine, whatever their status.
        package let quarantinesRequest: Bool

        package init(_ rawValue: String, status: Int, title: String, quarantinesRequest: Bool = false) {
            self.rawValue = rawValue
            self.status = status
            self.title = title
            self.quarantinesRequest = quarantinesRequest
        }

        /// An adapter's code: every adapter error is found after authentication, so it quarantines unless the
        /// adapter says it is itself an authentication failure (a Hellotracks account mismatch).
        package init(_ code: AdapterError.Code) {
            self.init(
                code.rawValue,
                status: code.status,
                title: code.title,
                quarantinesRequest: code.quarantinesRequest
            )
        }

        package var description: String { rawValue }

        package static func == (lhs: Code, rhs: Code) -> Bool { lhs.rawValue == rhs.rawValue }
        package func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

        /// Today's code named `rawValue`, if any.
        package static func named(_ rawValue: String) -> Code? { byName[rawValue] }

        private static let byName: [String: Code] = Dictionary(
            catalogue.map { ($0.rawValue, $0) },
            uniquingKeysWith: { first, _ in first }
        )
    }
}

// MARK: - The catalogue

extension Problem.Code {
    // Before the route: the HTTP layer and the head of the request.
    package static let badFraming = Self("bad-framing", status: 400, title: "Ambiguous message framing")
    package static let badRequest = Self("bad-request", status: 400, title: "Malformed HTTP request")
    package static let requestTimeout = Self("request-timeout", status: 408, title: "Request timeout")
    package static let headersTooLarge = Self(
        "headers-too-large",
        status: 431,
        title: "Request header fields too large"
    )
    package static let tooManyConnections = Self("too-many-connections", status: 503, title: "Too many connections")
    package static let notFound = Self("not-found", status: 404, title: "Not found")
    package static let methodNotAllowed = Self("method-not-allowed", status: 405, title: "Method not allowed")

    // CONTRACT §1's order of checks on an ingest route.
    package static let bodyTooLarge = Self("body-too-large", status: 413, title: "Body too large")
    package static let unknownTenant = Self("unknown-tenant", status: 401, title: "Unknown tenant")
    package static let badCredentials = Self("bad-credentials", status: 401, title: "Bad credentials")
    package static let unsupportedMediaType = Self(
        "unsupported-media-type",
        status: 415,
        title: "Unsupported media type",
        quarantinesRequest: true
    )
    package static let emptyBody = Self("empty-body", status: 400, title: "Empty body", quarantinesRequest: true)

    // The store.
    package static let storeUnavailable = Self("store-unavailable", status: 503, title: "Store unavailable")
    package static let overloaded = Self("store-overloaded", status: 503, title: "Store overloaded")

    // The admin API.
    package static let unauthorized = Self("unauthorized", status: 401, title: "Unauthorized")
    package static let invalidQuery = Self("invalid-query", status: 400, title: "Invalid query")
    package static let invalidSubscriber = Self("invalid-subscriber", status: 400, title: "Invalid subscriber")
    package static let subscriberExists = Self("subscriber-exists", status: 409, title: "Subscriber exists")
    package static let deliveryPending = Self("delivery-pending", status: 409, title: "Delivery pending")
    package static let alreadyReplayed = Self("already-replayed", status: 409, title: "Already replayed")
    /// The replay request was fine; the request it replays still fails (its problem travels inside).
    package static let replayRejected = Self("replay-rejected", status: 409, title: "Replay rejected")
    package static let destinationRefused = Self("destination-refused", status: 422, title: "Destination refused")
    package static let outOfRange = Self("out-of-range", status: 422, title: "Value out of range")
    package static let internalError = Self("internal-error", status: 500, title: "Internal error")

    /// Every code the gateway answers with, the adapters' included.
    package static let catalogue: [Self] =
        [
            badFraming, badRequest, requestTimeout, headersTooLarge, tooManyConnections, notFound,
            methodNotAllowed, bodyTooLarge, unknownTenant, badCredentials, unsupportedMediaType, emptyBody,
            storeUnavailable, overloaded, unauthorized, invalidQuery, invalidSubscriber, subscriberExists,
            deliveryPending, alreadyReplayed, replayRejected, destinationRefused, outOfRange, internalError,
        ] + AdapterError.Code.all.map(Self.init)
}

// MARK: - Problems with their details

extension Problem {
    package static func notFound(_ path: String) -> Problem {
        Problem(.notFound, "no route for path '\(path)'")
    }

    /// An admin resource that does not exist (the same `not-found` code as an unknown route).
    package static func resourceNotFound(_ detail: String) -> Problem {
        Problem(.notFound, detail)
    }

    package static func methodNotAllowed(_ method: String) -> Problem {
        Problem(.methodNotAllowed, "ingest routes accept POST only, not \(method)")
    }

    package static func bodyTooLarge(_ detail: String) -> Problem {
        Problem(.bodyTooLarge, detail)
    }

    package static func headersTooLarge(_ size: Int, limit: Int) -> Problem {
        Problem(.headersTooLarge, "the header block is \(size) bytes; the limit is \(limit)")
    }

    package static func badFraming(_ detail: String) -> Problem {
        Problem(.badFraming, detail)
    }

    package static func unknownTenant(vendor: String, tenant: String) -> Problem {
        Problem(.unknownTenant, "no \(vendor) tenant '\(tenant)' is configured")
    }

    package static func badCredentials(_ failure: CredentialFailure) -> Problem {
        Problem(.badCredentials, failure.detail)
    }

    package static func unsupportedMediaType(_ detail: String) -> Problem {
        Problem(.unsupportedMediaType, detail)
    }

    package static let emptyBody = Problem(
        .emptyBody,
        "the request has no body; a webhook call-out must carry its event"
    )

    package static func storeUnavailable(_ detail: String) -> Problem {
        Problem(.storeUnavailable, detail)
    }

    /// The store's bounded queue is full (or the database is busy): nothing was stored, the vendor retries.
    package static func overloaded(_ overload: StoreOverloaded) -> Problem {
        Problem(
            .overloaded,
            "the gateway cannot take more writes right now (\(overload.reason)); retry later",
            retryAfter: overload.retryAfter
        )
    }

    package static func unauthorized(_ detail: String) -> Problem {
        Problem(.unauthorized, detail)
    }

    package static func invalidQuery(_ detail: String) -> Problem {
        Problem(.invalidQuery, detail)
    }

    package static func invalidSubscriber(_ detail: String) -> Problem {
        Problem(.invalidSubscriber, detail)
    }

    package static let internalError = Problem(
        .internalError,
        "the gateway failed to answer this request; it has been logged"
    )
}
