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
    /// The highest numbers when the state was read: a checked write moves the batch's numbers past what others
    /// committed since.
    private var sequenceBase: Int64 = 0
    private var deliveryBase: Int64 = 0
    /// Each job row's version as read; a checked write requires it unchanged.
    private var readJobs: [String: (lastSequence: Int64, eventCount: Int)] = [:]
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

    /// The call that reads it (``HotPathFunctions``: under the commit-order lock, with the batch's NOTIFY): the
    /// highest numbers, the batch's first-occurrence IDs, its jobs and the quarantined requests it replays.
    ///
    /// `locked: false` reads the same without the lock (``HotPathFunctions/version5``): the batch then writes with
    /// ``writeQuery(checked:)`` and `checked: true`.
    static func query(for writes: [Write], locked: Bool) -> PostgresQuery {
        let ids = Array(Set(writes.map(\.candidate.key.eventID)))
        let jobKeys = Array(Set(writes.compactMap(\.candidate.event.job?.key)))
        let quarantineIDs = Array(Set(writes.compactMap(\.replay?.quarantineID)))
        if locked {
            return "SELECT * FROM fieldgate_ingest_state(\(ids)::text[], \(jobKeys)::text[], \(quarantineIDs)::text[])"
        }
        return "SELECT * FROM fieldgate_ingest_read(\(ids)::text[], \(jobKeys)::text[], \(quarantineIDs)::text[])"
    }

    /// The state from the answer to ``query(for:)``.
    init(for writes: [Write], rows: [PostgresRow]) throws {
        self.init(nextSequence: 1, nextDeliveryID: 1)
        for id in writes.map(\.candidate.key.eventID) { stored[id] = .some(nil) }
        for id in writes.compactMap(\.replay?.quarantineID) { quarantine[id] = .notFound }
        for row in rows {
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
                nextSequence = (a ?? 0) + 1
                nextDeliveryID = (b ?? 0) + 1
                sequenceBase = a ?? 0
                deliveryBase = b ?? 0
            case 1:
                if let id { stored[id] = EventRow(keyExpiresAt: number, json: json) }
            case 2:
                guard let id, let vendor, let tenant, let jobID, let lastEventAt, let lastEventID, let lastSequence,
                    let eventCount
                else { continue }
                readJobs[id] = (lastSequence, eventCount)
                jobs[id] = JobSummary(
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
                quarantine[id] =
                    status.map { .replayed(eventID: $0, at: number.map(UTCTimestamp.init(millisecondsSinceEpoch:))) }
                    ?? .open
            default:
                continue
            }
        }
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
    mutating func fetch(_ ids: [String], on connection: GuardedConnection) async throws {
        let missing = ids.filter { !knows($0) }
        guard !missing.isEmpty else { return }
        for id in missing { stored[id] = .some(nil) }
        for row in try await connection.rows(
            "SELECT id, key_expires_at, json FROM event WHERE id = ANY(\(missing)::text[])"
        ) {
            let (id, expiresAt, json) = try row.decode((String, Int64?, ByteBuffer).self)
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

    /// Everything the batch decided, in one call (``HotPathFunctions``). `checked`: the optimistic write, which
    /// answers false and writes nothing when what the batch decided on changed since it read (then the batch is
    /// decided again under the lock).
    func writeQuery(checked: Bool) -> PostgresQuery {
        let supersededIDs = superseded.keys.sorted()
        let supersededUntil = supersededIDs.map { superseded[$0]! }
        var job = JobColumns()
        for key in touchedJobs.sorted() { if let summary = jobs[key] { job.append(summary) } }
        let replayIDs = replays.map(\.id)
        let replayEvents = replays.map(\.eventID)
        let replayAts = replays.map(\.at)
        guard checked else {
            return """
                SELECT fieldgate_write_events(
                \(supersededIDs)::text[], \(supersededUntil)::int8[],
                \(events.sequences)::int8[], \(events.ids)::text[], \(events.vendors)::text[], \(events.tenants)::text[],
                \(events.types)::text[], \(events.jobKeys)::text[], \(events.statuses)::text[], \(events.times)::int8[],
                \(events.receivedAts)::int8[], \(events.jsons)::bytea[], \(events.methods)::text[],
                \(events.paths)::text[], \(events.headers)::text[], \(events.bodies)::bytea[],
                \(events.expiries)::int8[], \(events.chainExpiries)::int8[],
                \(deliveries.ids)::int8[], \(deliveries.eventIDs)::text[], \(deliveries.subscriberIDs)::text[],
                \(deliveries.jobKeys)::text[], \(deliveries.due)::int8[],
                \(job.keys)::text[], \(job.vendors)::text[], \(job.tenants)::text[], \(job.jobIDs)::text[],
                \(job.statuses)::text[], \(job.hasCode)::bool[], \(job.codes)::text[], \(job.hasName)::bool[],
                \(job.names)::text[], \(job.statusAts)::int8[], \(job.statusSequences)::int8[],
                \(job.lastEventAts)::int8[], \(job.lastEventIDs)::text[], \(job.lastSequences)::int8[],
                \(job.eventCounts)::int4[], \(job.updatedAts)::int8[],
                \(replayIDs)::text[], \(replayEvents)::text[], \(replayAts)::int8[])
                """
        }
        let versions = job.keys.map { readJobs[$0]?.lastSequence ?? -1 }
        let counts = job.keys.map { readJobs[$0].map { Int32(clamping: $0.eventCount) } ?? -1 }
        return """
            SELECT fieldgate_write_events_checked(\(sequenceBase), \(deliveryBase), \(job.keys)::text[],
                \(versions)::int8[], \(counts)::int4[],
                \(supersededIDs)::text[], \(supersededUntil)::int8[],
                \(events.sequences)::int8[], \(events.ids)::text[], \(events.vendors)::text[], \(events.tenants)::text[],
                \(events.types)::text[], \(events.jobKeys)::text[], \(events.statuses)::text[], \(events.times)::int8[],
                \(events.receivedAts)::int8[], \(events.jsons)::bytea[], \(events.methods)::text[],
                \(events.paths)::text[], \(events.headers)::text[], \(events.bodies)::bytea[],
                \(events.expiries)::int8[], \(events.chainExpiries)::int8[],
                \(deliveries.ids)::int8[], \(deliveries.eventIDs)::text[], \(deliveries.subscriberIDs)::text[],
                \(deliveries.jobKeys)::text[], \(deliveries.due)::int8[],
                \(job.keys)::text[], \(job.vendors)::text[], \(job.tenants)::text[], \(job.jobIDs)::text[],
                \(job.statuses)::text[], \(job.hasCode)::bool[], \(job.codes)::text[], \(job.hasName)::bool[],
                \(job.names)::text[], \(job.statusAts)::int8[], \(job.statusSequences)::int8[],
                \(job.lastEventAts)::int8[], \(job.lastEventIDs)::text[], \(job.lastSequences)::int8[],
                \(job.eventCounts)::int4[], \(job.updatedAts)::int8[],
                \(replayIDs)::text[], \(replayEvents)::text[], \(replayAts)::int8[])
            """
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
