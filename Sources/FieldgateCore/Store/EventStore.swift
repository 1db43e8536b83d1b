public import FieldgateModel

/// Durable home of accepted events, dedupe keys and quarantined requests.
///
/// Every operation is atomic and free of process-local assumptions, so that several gateway instances can share
/// one store: "is this key new?" and "store the event" are a single step (``insertIfNew(_:)``), never a read
/// followed by a write.
public protocol EventStore: Sendable {
    /// Stores the event unless its dedupe key was accepted within its window; returns what happened.
    func insertIfNew(_ candidate: EventCandidate) async throws -> InsertOutcome

    /// Keeps a request that was authenticated but not understood, so it can be inspected and replayed.
    func quarantine(_ request: QuarantinedRequest) async throws

    /// The accepted event with this ID and the request it came from.
    func event(id: String) async throws -> StoredEvent?

    /// Deletes dedupe keys whose window ended before `instant`; returns how many.
    func purgeExpiredKeys(before instant: UTCTimestamp) async throws -> Int
}

/// An event the pipeline wants to store, with everything needed to decide whether it is new.
public struct EventCandidate: Sendable {
    public var event: CanonicalEvent
    public var key: DedupeKey
    /// When the dedupe key stops counting: receipt time plus the tenant's window.
    public var keyExpiresAt: UTCTimestamp
    public var raw: RawRequest

    public init(event: CanonicalEvent, key: DedupeKey, keyExpiresAt: UTCTimestamp, raw: RawRequest) {
        self.event = event
        self.key = key
        self.keyExpiresAt = keyExpiresAt
        self.raw = raw
    }
}

public enum InsertOutcome: Sendable, Equatable {
    /// Stored; the event may carry a re-derived ID when an earlier acceptance of the same key had expired.
    case inserted(CanonicalEvent)
    /// The key was accepted within its window: this is the first accepted copy.
    case duplicate(of: CanonicalEvent)
}

/// A request as received, secrets redacted: kept beside its event or in quarantine.
public struct RawRequest: Sendable, Equatable {
    public var method: String
    public var path: String
    public var headers: RequestHeaders
    public var body: [UInt8]

    public init(method: String, path: String, headers: RequestHeaders, body: [UInt8]) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    public static let redactedValue = "[redacted]"

    /// Replaces the values of secret-bearing headers; the names stay so that operators can see what was sent.
    public static func redacting(
        _ request: InboundRequest,
        secretHeaders: [String]
    ) -> RawRequest {
        var headers = RequestHeaders()
        for field in request.headers {
            let secret =
                alwaysSecret.contains { field.name.equalsIgnoringASCIICase($0) }
                || secretHeaders.contains { field.name.equalsIgnoringASCIICase($0) }
            headers.append(name: field.name, value: secret ? redactedValue : field.value)
        }
        return RawRequest(method: request.method, path: request.path, headers: headers, body: request.body)
    }

    static let alwaysSecret = ["Authorization", "Proxy-Authorization", "Cookie", "X-Token"]
}

/// An accepted event as stored.
public struct StoredEvent: Sendable, Equatable {
    public var event: CanonicalEvent
    public var raw: RawRequest

    public init(event: CanonicalEvent, raw: RawRequest) {
        self.event = event
        self.raw = raw
    }
}

/// A request that passed authentication but was rejected with 400, 415 or 422.
public struct QuarantinedRequest: Sendable, Equatable {
    public var id: String
    public var vendor: String
    public var tenant: String
    public var routeSuffix: String
    public var raw: RawRequest
    public var problem: Problem
    public var receivedAt: UTCTimestamp

    public init(
        id: String,
        vendor: String,
        tenant: String,
        routeSuffix: String,
        raw: RawRequest,
        problem: Problem,
        receivedAt: UTCTimestamp
    ) {
        self.id = id
        self.vendor = vendor
        self.tenant = tenant
        self.routeSuffix = routeSuffix
        self.raw = raw
        self.problem = problem
        self.receivedAt = receivedAt
    }
}
