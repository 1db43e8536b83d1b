import FieldgateCore
import FieldgateModel
import Logging
import NIOCore
import PostgresNIO

/// What one ingest batch knows and decides under the commit-order lock: the rows it read, the rows it will write.
///
/// Event sequence numbers and delivery IDs continue after the highest ones in the database, which the lock keeps
/// exact (nobody else numbers rows until this transaction commits).
struct BatchState {
    /// An event row as far as dedupe is concerned.
    struct EventRow {
        var keyExpiresAt: Int64?
        var json: ByteBuffer?
        /// Set for an event this batch writes; read rows decode `json` when needed.
        var written: CanonicalEvent?

        func event() throws -> CanonicalEvent {
            if let written { return written }
            guard let json else { throw PostgresStoreError("an event row without its JSON") }
            return try CanonicalEvent(decoding: Array(json.readableBytesView))
        }
    }

    enum ReplayState {
        case notFound
        case open
        case replayed(eventID: String, at: UTCTimestamp?)
    }

    private var nextSequence: Int64
    private var nextDeliveryID: Int64
    /// Event IDs read from the database: present (with their dedupe state) or known to be absent.
    private var stored: [String: EventRow?] = [:]
    private var jobs: [String: JobSummary] = [:]
    private var touchedJobs: Set<String> = []
    private var quarantine: [String: ReplayState] = [:]

    // Rows to write.
    private var events = EventColumns()
    /// Index in `events` of each event this batch inserts.
    private var inserted: [String: Int] = [:]
    private var superseded: [String: Int64] = [:]
    private var deliveries = DeliveryColumns()
    private var replays: [(id: String, eventID: String, at: Int64)] = []

    /// One statement: the highest numbers, the batch's first-occurrence IDs, its jobs and quarantined requests.
    static func read(
        for writes: [Write],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> BatchState {
        let ids = Array(Set(writes.map(\.candidate.key.eventID)))
        let jobKeys = Array(Set(writes.compactMap(\.candidate.event.job?.key)))
        let quarantineIDs = Array(Set(writes.compactMap(\.replay?.quarantineID)))
        var state = BatchState(nextSequence: 1, nextDeliveryID: 1)
        for id in ids { state.stored[id] = .some(nil) }
        for id in quarantineIDs { state.quarantine[id] = .notFound }
        let rows = try await connection.query(
            """
            SELECT 0, NULL::text, NULL::bigint, NULL::bytea, (SELECT COALESCE(max(sequence), 0) FROM event),
                   (SELECT COALESCE(max(id), 0) FROM delivery), NULL::text, NULL::text, NULL::text, NULL::text,
                   NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::bigint, NULL::integer
            UNION ALL
            SELECT 1, id, key_expires_at, json, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
            FROM event WHERE id = ANY(\(ids)::text[])
            UNION ALL
            SELECT 2, key, NULL, NULL, status_at, status_sequence, vendor, tenant, job_id, status, vendor_status_code,
                   vendor_status_name, last_event_at, last_event_id, last_sequence, event_count
            FROM job WHERE key = ANY(\(jobKeys)::text[])
            UNION ALL
            SELECT 3, id, replayed_at, NULL, NULL, NULL, NULL, NULL, NULL, replayed_as, NULL, NULL, NULL, NULL, NULL,
                   NULL
            FROM quarantine WHERE id = ANY(\(quarantineIDs)::text[])
            """,
            logger: logger
        )
        for try await row in rows {
            let (
                kind, id, number, json, a, b, vendor, tenant, jobID, status, code, name, lastEventAt, lastEventID,
                lastSequence, eventCount
            ) = try row.decode(
                (
                    Int, String?, Int64?, ByteBuffer?, Int64?, Int64?, String?, String?, String?, String?, String?,
                    String?, Int64?, String?, Int64?, Int?
                ).self
            )
            switch kind {
            case 0:
                state.nextSequence = (a ?? 0) + 1
                state.nextDeliveryID = (b ?? 0) + 1
            case 1:
                if let id { state.stored[id] = EventRow(keyExpiresAt: number, json: json) }
            case 2:
                guard let id, let vendor, let tenant, let jobID, let lastEventAt, let lastEventID, let lastSequence,
                    let eventCount
                else { continue }
                state.jobs[id] = JobSummary(
                    key: id,
                    vendor: vendor,
                    tenant: tenant,
                    jobID: jobID,
                    status: status.flatMap(JobStatus.init(rawValue:)),
                    vendorStatus: VendorStatus(code: code, name: name),
                    statusAt: a.map(UTCTimestamp.init(millisecondsSinceEpoch:)),
                    statusSequence: b,
                    lastEventAt: UTCTimestamp(millisecondsSinceEpoch: lastEventAt),
                    lastEventID: lastEventID,
                    lastSequence: lastSequence,
                    eventCount: eventCount
                )
            case 3:
                guard let id else { continue }
                state.quarantine[id] =
                    status.map { .replayed(eventID: $0, at: number.map(UTCTimestamp.init(millisecondsSinceEpoch:))) }
                    ?? .open
            default:
                continue
            }
        }
        return state
    }

    typealias Write = PostgresEventWriter.Write

    private init(nextSequence: Int64, nextDeliveryID: Int64) {
        self.nextSequence = nextSequence
        self.nextDeliveryID = nextDeliveryID
    }

    // MARK: Dedupe state

    /// True when the batch knows whether `id` is taken (read from the database, or written by this batch).
    func knows(_ id: String) -> Bool { inserted[id] != nil || stored[id] != nil }

    /// The row with this ID as this batch sees it: its own writes over what it read.
    func row(_ id: String) -> EventRow? {
        if let index = inserted[id] {
            return EventRow(keyExpiresAt: events.keyExpiresAt(index), json: nil, written: events.event(index))
        }
        guard let found = stored[id], var row = found else { return nil }
        if superseded[id] != nil { row.keyExpiresAt = nil }
        return row
    }

    /// Reads the dedupe state of `ids` the batch does not know yet.
    mutating func fetch(_ ids: [String], on connection: PostgresConnection, logger: Logger) async throws {
        let missing = ids.filter { !knows($0) }
        guard !missing.isEmpty else { return }
        for id in missing { stored[id] = .some(nil) }
        for try await (id, expiresAt, json) in try await connection.query(
            "SELECT id, key_expires_at, json FROM event WHERE id = ANY(\(missing)::text[])",
            logger: logger
        ).decode((String, Int64?, ByteBuffer).self) {
            stored[id] = EventRow(keyExpiresAt: expiresAt, json: json)
        }
    }

    /// An earlier acceptance of a key that a new one replaces: it no longer answers duplicates, and stays (for the
    /// walk along the key's IDs) until `until`, when the new acceptance stops counting.
    mutating func supersede(_ id: String, until: Int64) {
        if let index = inserted[id] {
            events.supersede(index, until: until)
        } else {
            superseded[id] = max(superseded[id] ?? until, until)
        }
    }

    // MARK: Rows to write

    mutating func insert(_ event: CanonicalEvent, write: Write, subscribers: [Subscriber]) {
        let sequence = nextSequence
        nextSequence += 1
        inserted[event.id] = events.count
        events.append(event, write: write, sequence: sequence)
        for subscriber in subscribers where subscriber.filter.matches(event) {
            deliveries.append(id: nextDeliveryID, event: event, subscriberID: subscriber.id)
            nextDeliveryID += 1
        }
        if let key = event.job?.key {
            let next = jobs[key]?.applying(event, sequence: sequence) ?? JobSummary(first: event, sequence: sequence)
            if let next {
                touchedJobs.insert(key)
                jobs[key] = next
            }
        }
    }

    func replayState(_ quarantineID: String) -> ReplayState { quarantine[quarantineID] ?? .notFound }

    mutating func markReplayed(_ quarantineID: String, as eventID: String, at instant: UTCTimestamp) {
        quarantine[quarantineID] = .replayed(eventID: eventID, at: instant)
        replays.append((quarantineID, eventID, instant.millisecondsSinceEpoch))
    }

    /// Everything the batch decided, in one statement.
    func write(on connection: PostgresConnection, logger: Logger) async throws {
        let supersededIDs = superseded.keys.sorted()
        let supersededUntil = supersededIDs.map { superseded[$0]! }
        var job = JobColumns()
        for key in touchedJobs.sorted() { if let summary = jobs[key] { job.append(summary) } }
        try await connection.query(
            """
            WITH superseded AS (
                UPDATE event e SET key_expires_at = NULL, chain_expires_at = GREATEST(e.chain_expires_at, s.until)
                FROM unnest(\(supersededIDs)::text[], \(supersededUntil)::int8[]) AS s(id, until)
                WHERE e.id = s.id
            ),
            inserted AS (
                INSERT INTO event (sequence, id, vendor, tenant, type, job_key, status, time, received_at, json,
                                   raw_method, raw_path, raw_headers, raw_body, key_expires_at, chain_expires_at)
                SELECT i.sequence, i.id, i.vendor, i.tenant, i.type, NULLIF(i.job_key, ''), NULLIF(i.status, ''),
                       i.time, i.received_at, i.json, i.raw_method, i.raw_path, i.raw_headers, i.raw_body,
                       NULLIF(i.key_expires_at, -1), NULLIF(i.chain_expires_at, -1)
                FROM unnest(\(events.sequences)::int8[], \(events.ids)::text[], \(events.vendors)::text[],
                            \(events.tenants)::text[], \(events.types)::text[], \(events.jobKeys)::text[],
                            \(events.statuses)::text[], \(events.times)::int8[], \(events.receivedAts)::int8[],
                            \(events.jsons)::bytea[], \(events.methods)::text[], \(events.paths)::text[],
                            \(events.headers)::text[], \(events.bodies)::bytea[], \(events.expiries)::int8[],
                            \(events.chainExpiries)::int8[])
                    AS i(sequence, id, vendor, tenant, type, job_key, status, time, received_at, json, raw_method,
                         raw_path, raw_headers, raw_body, key_expires_at, chain_expires_at)
            ),
            queued AS (
                INSERT INTO delivery (id, event_id, subscriber_id, job_key, state, attempts, next_attempt_at,
                                      created_at)
                SELECT q.id, q.event_id, q.subscriber_id, NULLIF(q.job_key, ''), 'pending', 0, q.due, q.due
                FROM unnest(\(deliveries.ids)::int8[], \(deliveries.eventIDs)::text[],
                            \(deliveries.subscriberIDs)::text[], \(deliveries.jobKeys)::text[],
                            \(deliveries.due)::int8[]) AS q(id, event_id, subscriber_id, job_key, due)
                WHERE EXISTS (SELECT 1 FROM subscriber s WHERE s.id = q.subscriber_id AND s.enabled)
            ),
            jobs AS (
                INSERT INTO job (key, vendor, tenant, job_id, status, vendor_status_code, vendor_status_name,
                                 status_at, status_sequence, last_event_at, last_event_id, last_sequence, event_count,
                                 updated_at)
                SELECT j.key, j.vendor, j.tenant, j.job_id, NULLIF(j.status, ''),
                       CASE WHEN j.has_code THEN j.code END, CASE WHEN j.has_name THEN j.name END,
                       CASE WHEN j.status_sequence <> -1 THEN j.status_at END, NULLIF(j.status_sequence, -1),
                       j.last_event_at, j.last_event_id,
                       j.last_sequence, j.event_count, j.updated_at
                FROM unnest(\(job.keys)::text[], \(job.vendors)::text[], \(job.tenants)::text[],
                            \(job.jobIDs)::text[], \(job.statuses)::text[], \(job.hasCode)::bool[],
                            \(job.codes)::text[], \(job.hasName)::bool[], \(job.names)::text[],
                            \(job.statusAts)::int8[], \(job.statusSequences)::int8[], \(job.lastEventAts)::int8[],
                            \(job.lastEventIDs)::text[], \(job.lastSequences)::int8[], \(job.eventCounts)::int4[],
                            \(job.updatedAts)::int8[])
                    AS j(key, vendor, tenant, job_id, status, has_code, code, has_name, name, status_at,
                         status_sequence, last_event_at, last_event_id, last_sequence, event_count, updated_at)
                ON CONFLICT (key) DO UPDATE SET
                    status = excluded.status, vendor_status_code = excluded.vendor_status_code,
                    vendor_status_name = excluded.vendor_status_name, status_at = excluded.status_at,
                    status_sequence = excluded.status_sequence, last_event_at = excluded.last_event_at,
                    last_event_id = excluded.last_event_id, last_sequence = excluded.last_sequence,
                    event_count = excluded.event_count, updated_at = excluded.updated_at
            ),
            replays AS (
                UPDATE quarantine q SET replayed_as = r.event_id, replayed_at = r.at
                FROM unnest(\(replays.map(\.id))::text[], \(replays.map(\.eventID))::text[],
                            \(replays.map(\.at))::int8[]) AS r(id, event_id, at)
                WHERE q.id = r.id
            )
            SELECT 1
            """,
            logger: logger
        )
    }
}

/// Event rows as columns (postgres-nio binds arrays; an array cannot carry NULL, so -1 and the empty string stand
/// for it and NULLIF restores it).
struct EventColumns {
    var sequences: [Int64] = []
    var ids: [String] = []
    var vendors: [String] = []
    var tenants: [String] = []
    var types: [String] = []
    var jobKeys: [String] = []
    var statuses: [String] = []
    var times: [Int64] = []
    var receivedAts: [Int64] = []
    var jsons: [ByteBuffer] = []
    var methods: [String] = []
    var paths: [String] = []
    var headers: [String] = []
    var bodies: [ByteBuffer] = []
    var expiries: [Int64] = []
    var chainExpiries: [Int64] = []
    private var values: [CanonicalEvent] = []

    var count: Int { ids.count }

    /// `chainExpiresAt` is only ever set by a store copy; a new event starts without one.
    mutating func append(
        _ event: CanonicalEvent,
        write: PostgresEventWriter.Write,
        sequence: Int64,
        chainExpiresAt: Int64? = nil
    ) {
        values.append(event)
        sequences.append(sequence)
        ids.append(event.id)
        vendors.append(event.vendor)
        tenants.append(event.tenant)
        types.append(event.type.rawValue)
        jobKeys.append(event.job?.key ?? "")
        statuses.append(event.job?.status?.rawValue ?? "")
        times.append(event.time.millisecondsSinceEpoch)
        receivedAts.append(event.receivedAt.millisecondsSinceEpoch)
        jsons.append(write.json)
        methods.append(write.candidate.raw.method)
        paths.append(write.candidate.raw.path)
        headers.append(write.headers)
        bodies.append(write.body)
        expiries.append(write.candidate.keyExpiresAt.millisecondsSinceEpoch)
        chainExpiries.append(chainExpiresAt ?? -1)
    }

    func keyExpiresAt(_ index: Int) -> Int64? { expiries[index] == -1 ? nil : expiries[index] }

    func event(_ index: Int) -> CanonicalEvent { values[index] }

    mutating func supersede(_ index: Int, until: Int64) {
        expiries[index] = -1
        chainExpiries[index] = max(chainExpiries[index], until)
    }
}

struct DeliveryColumns {
    var ids: [Int64] = []
    var eventIDs: [String] = []
    var subscriberIDs: [String] = []
    var jobKeys: [String] = []
    var due: [Int64] = []

    mutating func append(id: Int64, event: CanonicalEvent, subscriberID: String, due: UTCTimestamp? = nil) {
        ids.append(id)
        eventIDs.append(event.id)
        subscriberIDs.append(subscriberID)
        jobKeys.append(event.job?.key ?? "")
        self.due.append((due ?? event.receivedAt).millisecondsSinceEpoch)
    }
}

struct JobColumns {
    var keys: [String] = []
    var vendors: [String] = []
    var tenants: [String] = []
    var jobIDs: [String] = []
    var statuses: [String] = []
    var hasCode: [Bool] = []
    var codes: [String] = []
    var hasName: [Bool] = []
    var names: [String] = []
    var statusAts: [Int64] = []
    var statusSequences: [Int64] = []
    var lastEventAts: [Int64] = []
    var lastEventIDs: [String] = []
    var lastSequences: [Int64] = []
    var eventCounts: [Int32] = []
    var updatedAts: [Int64] = []

    var isEmpty: Bool { keys.isEmpty }

    mutating func append(_ job: JobSummary) {
        keys.append(job.key)
        vendors.append(job.vendor)
        tenants.append(job.tenant)
        jobIDs.append(job.jobID)
        statuses.append(job.status?.rawValue ?? "")
        hasCode.append(job.vendorStatus?.code != nil)
        codes.append(job.vendorStatus?.code ?? "")
        hasName.append(job.vendorStatus?.name != nil)
        names.append(job.vendorStatus?.name ?? "")
        // A status time and its sequence are set together; a -1 sequence stands for neither.
        statusAts.append(job.statusAt?.millisecondsSinceEpoch ?? 0)
        statusSequences.append(job.statusAt == nil ? -1 : job.statusSequence ?? -1)
        lastEventAts.append(job.lastEventAt.millisecondsSinceEpoch)
        lastEventIDs.append(job.lastEventID)
        lastSequences.append(job.lastSequence)
        eventCounts.append(Int32(clamping: job.eventCount))
        updatedAts.append(job.updatedAt.millisecondsSinceEpoch)
    }
}
