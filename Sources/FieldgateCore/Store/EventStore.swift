package import FieldgateModel

/// Durable home of accepted events, dedupe keys and quarantined requests.
///
/// Every operation is atomic and free of process-local assumptions, so that several gateway instances can share
/// one store: "is this key new?" and "store the event" are a single step (``insertIfNew(_:)``), never a read
/// followed by a write.
package protocol EventStore: Sendable {
    /// Stores the event unless its dedupe key was accepted within its window; returns what happened.
    ///
    /// Returns only once the outcome is durable. Throws ``StoreOverloaded`` when the store cannot take the write
    /// now (its queue is full, the database is busy or full): nothing was stored and the caller answers 503.
    func insertIfNew(_ candidate: EventCandidate) async throws -> InsertOutcome

    /// Keeps a request that was authenticated but not understood, so it can be inspected and replayed.
    func quarantine(_ request: QuarantinedRequest) async throws

    /// The accepted event with this ID and the request it came from.
    func event(id: String) async throws -> StoredEvent?

    /// Deletes dedupe keys whose window ended before `instant`; returns how many.
    func purgeExpiredKeys(before instant: UTCTimestamp) async throws -> Int

    // MARK: Retention (small batches, off the ingest path)

    /// Deletes at most `limit` events received before `instant`, oldest first, with their raw requests and, in a
    /// store that is also a ``DeliveryStore``, their deliveries and attempts; returns how many events went.
    ///
    /// An event that dedupe still needs stays, however old: while any acceptance of its dedupe key still counts at
    /// `now`, a copy must keep being answered as a duplicate (and a later acceptance of the key must keep its own
    /// ID), so the store deletes an event only once every key it took part in has expired.
    func deleteEvents(receivedBefore instant: UTCTimestamp, now: UTCTimestamp, limit: Int) async throws -> Int

    /// Deletes at most `limit` quarantined requests received before `instant`, oldest first; returns how many.
    func deleteQuarantinedRequests(receivedBefore instant: UTCTimestamp, limit: Int) async throws -> Int

    // MARK: Queries (the admin API)

    /// Accepted events matching `query`, newest accepted first, at most `query.limit` of them.
    func events(_ query: EventQuery) async throws -> Page<StoredEvent>

    /// Events accepted after `sequence`, oldest first, at most `limit`: what a live stream sends next.
    func events(after sequence: Int64, limit: Int) async throws -> [StoredEvent]

    /// Every event of one job (`vendor:tenant:id`), in acceptance order.
    func events(jobKey: String) async throws -> [StoredEvent]

    /// Jobs matching `query`, most recently updated first (``JobSummary/updatedAt``, then key), at most
    /// `query.limit`.
    ///
    /// Each job's summary is kept up to date in the transaction of each of its events (and when retention deletes
    /// events), so a listing reads one row per job and never the events.
    func jobs(_ query: JobQuery) async throws -> JobPage

    /// Quarantined requests matching `query`, newest first.
    func quarantinedRequests(_ query: QuarantineQuery) async throws -> Page<QuarantinedRequest>

    /// One quarantined request.
    func quarantinedRequest(id: String) async throws -> QuarantinedRequest?

    /// Stores the event a quarantined request's replay produced and records the replay on the request, in one
    /// transaction: either both happen or neither does.
    ///
    /// A request already replayed stores nothing and answers ``ReplayInsertOutcome/alreadyReplayed(eventID:at:)``
    /// with the event it became, so that two replays — one after the other, or racing on two instances — make at
    /// most one event. The event may turn out to be a duplicate; the request then records the original's ID.
    func insertReplay(
        _ candidate: EventCandidate,
        quarantineID: String,
        at instant: UTCTimestamp
    ) async throws -> ReplayInsertOutcome

    /// Throws unless the store can take writes right now (`/readyz`).
    func checkWritable() async throws
}

/// Filters of `GET /v1/events`; nil matches everything.
package struct EventQuery: Sendable, Equatable {
    package var vendor: String?
    package var tenant: String?
    package var type: String?
    package var jobKey: String?
    package var status: String?
    /// Bounds on the receipt time: `since` inclusive, `until` exclusive.
    package var since: UTCTimestamp?
    package var until: UTCTimestamp?
    /// Only events accepted before this sequence number (the cursor of the previous page).
    package var before: Int64?
    package var limit: Int

    package init(
        vendor: String? = nil,
        tenant: String? = nil,
        type: String? = nil,
        jobKey: String? = nil,
        status: String? = nil,
        since: UTCTimestamp? = nil,
        until: UTCTimestamp? = nil,
        before: Int64? = nil,
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
    package func matches(_ stored: StoredEvent) -> Bool {
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
package struct QuarantineQuery: Sendable, Equatable {
    package var vendor: String?
    package var tenant: String?
    package var before: Int64?
    package var limit: Int

    package init(vendor: String? = nil, tenant: String? = nil, before: Int64? = nil, limit: Int = 50) {
        self.vendor = vendor
        self.tenant = tenant
        self.before = before
        self.limit = limit
    }

    package func matches(_ request: QuarantinedRequest) -> Bool {
        if let vendor, request.vendor != vendor { return false }
        if let tenant, request.tenant != tenant { return false }
        if let before, request.sequence >= before { return false }
        return true
    }
}

/// One page of a newest-first listing; `nextBefore` is the cursor for the next page, nil on the last one.
package struct Page<Item: Sendable>: Sendable {
    package var items: [Item]
    package var nextBefore: Int64?

    package init(items: [Item], nextBefore: Int64?) {
        self.items = items
        self.nextBefore = nextBefore
    }
}

extension Page {
    /// Cuts a newest-first list fetched with one extra row into a page: the extra row only says "there is more".
    package init(fetched: [Item], limit: Int, sequence: (Item) -> Int64) {
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
package struct EventCandidate: Sendable {
    package var event: CanonicalEvent
    package var key: DedupeKey
    /// When the dedupe key stops counting: receipt time plus the tenant's window.
    package var keyExpiresAt: UTCTimestamp
    package var raw: RedactedRequest

    package init(event: CanonicalEvent, key: DedupeKey, keyExpiresAt: UTCTimestamp, raw: RedactedRequest) {
        self.event = event
        self.key = key
        self.keyExpiresAt = keyExpiresAt
        self.raw = raw
    }
}

package enum InsertOutcome: Sendable, Equatable {
    /// Stored; the event may carry a re-derived ID when an earlier acceptance of the same key had expired.
    case inserted(CanonicalEvent)
    /// The key was accepted within its window: the ID of that first accepted copy. Only the ID: the answer to a
    /// duplicate needs nothing else, so a store need not read (let alone decode) the stored event.
    case duplicate(id: String)

    /// The ID the outcome names: the new event's, or the original's.
    package var eventID: String {
        switch self {
        case .inserted(let event): event.id
        case .duplicate(let id): id
        }
    }
}

/// What ``EventStore/insertReplay(_:quarantineID:at:)`` did.
package enum ReplayInsertOutcome: Sendable, Equatable {
    /// The replay's event was stored (or found to be a duplicate) and the request marked as replayed.
    case replayed(InsertOutcome)
    /// The request had been replayed before, into this event: nothing was stored.
    case alreadyReplayed(eventID: String, at: UTCTimestamp?)
    /// There is no quarantined request with this ID.
    case notFound
}

/// The store cannot take this write now and says so rather than queueing it without bound: the caller answers
/// 503 with `Retry-After` and the vendor retries (CONTRACT §1, "Overload never means an unbounded queue").
/// Nothing was stored, so nothing is acknowledged. Every store throws this same error, so the HTTP layer maps
/// it in one place whatever the store.
package struct StoreOverloaded: Error, Sendable, Equatable, CustomStringConvertible {
    /// When the caller should try again.
    package var retryAfter: Duration
    /// What is full, for the problem detail and the log: "the commit queue holds 4096 writes".
    package var reason: String

    package init(retryAfter: Duration, reason: String) {
        self.retryAfter = retryAfter
        self.reason = reason
    }

    /// `queued` writes were already waiting when this one was refused.
    package init(queued: Int, retryAfter: Duration = .seconds(2)) {
        self.init(retryAfter: retryAfter, reason: "\(queued) writes are waiting to be committed")
    }

    package var description: String { "store overloaded: \(reason)" }
}

/// A request as received with the values of its secret-bearing headers replaced: what is kept beside its event or
/// in quarantine, what the admin API shows and what a replay runs on.
package struct RedactedRequest: Sendable, Equatable {
    package var method: String
    package var path: String
    package var headers: RequestHeaders
    package var body: [UInt8]

    package init(method: String, path: String, headers: RequestHeaders, body: [UInt8]) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    package static let redactedValue = "[redacted]"

    /// Replaces the values of secret-bearing headers (the always-secret ones and the tenant's own); the names
    /// stay so that operators can see what was sent.
    package init(_ head: RequestHead, body: [UInt8], secretHeaders: [String]) {
        var headers = RequestHeaders()
        for field in head.headers {
            let secret =
                Self.alwaysSecret.contains { field.name.equalsIgnoringASCIICase($0) }
                || secretHeaders.contains { field.name.equalsIgnoringASCIICase($0) }
            headers.append(name: field.name, value: secret ? Self.redactedValue : field.value)
        }
        self.init(method: head.method, path: head.target, headers: headers, body: body)
    }

    /// Headers that carry secrets whatever the vendor; each tenant names its own (`VendorTenant.secretHeaderNames`).
    static let alwaysSecret = ["Authorization", "Proxy-Authorization", "Cookie"]

    /// The request's head, as stored.
    package var head: RequestHead { RequestHead(method: method, target: path, headers: headers) }
}

/// An accepted event as stored.
package struct StoredEvent: Sendable, Equatable {
    package var event: CanonicalEvent
    package var raw: RedactedRequest
    /// Acceptance order within the store: increasing, not necessarily dense.
    package var sequence: Int64

    package init(event: CanonicalEvent, raw: RedactedRequest, sequence: Int64) {
        self.event = event
        self.raw = raw
        self.sequence = sequence
    }
}

/// A request that passed authentication but was rejected with a problem that quarantines (400, 415, 422).
package struct QuarantinedRequest: Sendable, Equatable {
    package var id: String
    package var vendor: String
    package var tenant: String
    package var routeSuffix: String
    package var raw: RedactedRequest
    package var problem: Problem
    package var receivedAt: UTCTimestamp
    /// The event a successful replay produced, and when.
    package var replayedAs: String?
    package var replayedAt: UTCTimestamp?
    /// Quarantine order within the store; assigned by the store (0 until then).
    package var sequence: Int64

    package init(
        id: String,
        vendor: String,
        tenant: String,
        routeSuffix: String,
        raw: RedactedRequest,
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
