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

    // MARK: Queries (the admin API)

    /// Accepted events matching `query`, newest accepted first, at most `query.limit` of them.
    func events(_ query: EventQuery) async throws -> Page<StoredEvent>

    /// Events accepted after `sequence`, oldest first, at most `limit`: what a live stream sends next.
    func events(after sequence: Int64, limit: Int) async throws -> [StoredEvent]

    /// Every event of one job (`vendor:tenant:id`), in acceptance order.
    func events(jobKey: String) async throws -> [StoredEvent]

    /// Quarantined requests matching `query`, newest first.
    func quarantinedRequests(_ query: QuarantineQuery) async throws -> Page<QuarantinedRequest>

    /// One quarantined request.
    func quarantinedRequest(id: String) async throws -> QuarantinedRequest?

    /// Records that a quarantined request was replayed into an event; the request stays listed for the record.
    func markReplayed(quarantineID: String, eventID: String, at instant: UTCTimestamp) async throws

    /// Throws unless the store can take writes right now (`/readyz`).
    func checkWritable() async throws
}

/// Filters of `GET /v1/events`; nil matches everything.
public struct EventQuery: Sendable, Equatable {
    public var vendor: String?
    public var tenant: String?
    public var type: String?
    public var jobKey: String?
    public var status: String?
    /// Bounds on the receipt time: `since` inclusive, `until` exclusive.
    public var since: UTCTimestamp?
    public var until: UTCTimestamp?
    /// Only events accepted before this sequence number (the cursor of the previous page).
    public var before: Int64?
    public var limit: Int

    public init(
        vendor: String? = nil, tenant: String? = nil, type: String? = nil, jobKey: String? = nil,
        status: String? = nil, since: UTCTimestamp? = nil, until: UTCTimestamp? = nil, before: Int64? = nil,
        limit: Int = 50
    ) {
        self.vendor = vendor
        self.tenant = tenant
        self.type = type
        self.jobKey = jobKey
        self.status = status
        self.since = since
        self.until = until
        self.before = before
        self.limit = limit
    }

    /// The same predicate the SQL stores apply, for the in-memory store and for tests.
    public func matches(_ stored: StoredEvent) -> Bool {
        let event = stored.event
        if let vendor, event.vendor != vendor { return false }
        if let tenant, event.tenant != tenant { return false }
        if let type, event.type.rawValue != type { return false }
        if let jobKey, event.job?.key != jobKey { return false }
        if let status, event.job?.status?.rawValue != status { return false }
        if let since, event.receivedAt < since { return false }
        if let until, !(event.receivedAt < until) { return false }
        if let before, stored.sequence >= before { return false }
        return true
    }
}

/// Filters of `GET /v1/quarantine`.
public struct QuarantineQuery: Sendable, Equatable {
    public var vendor: String?
    public var tenant: String?
    public var before: Int64?
    public var limit: Int

    public init(vendor: String? = nil, tenant: String? = nil, before: Int64? = nil, limit: Int = 50) {
        self.vendor = vendor
        self.tenant = tenant
        self.before = before
        self.limit = limit
    }

    public func matches(_ request: QuarantinedRequest) -> Bool {
        if let vendor, request.vendor != vendor { return false }
        if let tenant, request.tenant != tenant { return false }
        if let before, request.sequence >= before { return false }
        return true
    }
}

/// One page of a newest-first listing; `nextBefore` is the cursor for the next page, nil on the last one.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextBefore: Int64?

    public init(items: [Item], nextBefore: Int64?) {
        self.items = items
        self.nextBefore = nextBefore
    }
}

extension Page {
    /// Cuts a newest-first list fetched with one extra row into a page: the extra row only says "there is more".
    public init(fetched: [Item], limit: Int, sequence: (Item) -> Int64) {
        if fetched.count > limit {
            items = Array(fetched.prefix(limit))
            nextBefore = items.last.map(sequence)
        } else {
            items = fetched
            nextBefore = nil
        }
    }
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
    /// Acceptance order within the store: increasing, not necessarily dense.
    public var sequence: Int64

    public init(event: CanonicalEvent, raw: RawRequest, sequence: Int64) {
        self.event = event
        self.raw = raw
        self.sequence = sequence
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
    /// The event a successful replay produced, and when.
    public var replayedAs: String?
    public var replayedAt: UTCTimestamp?
    /// Quarantine order within the store; assigned by the store (0 until then).
    public var sequence: Int64

    public init(
        id: String,
        vendor: String,
        tenant: String,
        routeSuffix: String,
        raw: RawRequest,
        problem: Problem,
        receivedAt: UTCTimestamp,
        replayedAs: String? = nil,
        replayedAt: UTCTimestamp? = nil,
        sequence: Int64 = 0
    ) {
        self.id = id
        self.vendor = vendor
        self.tenant = tenant
        self.routeSuffix = routeSuffix
        self.raw = raw
        self.problem = problem
        self.receivedAt = receivedAt
        self.replayedAs = replayedAs
        self.replayedAt = replayedAt
        self.sequence = sequence
    }
}
