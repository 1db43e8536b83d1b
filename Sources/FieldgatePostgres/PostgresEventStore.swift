package import FieldgateCore
package import FieldgateModel
package import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The shared ``EventStore`` and ``DeliveryStore``: any number of gateway instances on one PostgreSQL database
/// (CONTRACT §8).
///
/// **Durable before 202.** Every session runs with `synchronous_commit = on`; an insert is answered only after the
/// COMMIT of its batch has returned (``PostgresGroupCommit``: concurrent requests on one instance share a
/// transaction and its multi-row statements).
///
/// **Dedupe across instances.** As in SQLite, a key's events have the IDs `eventID(occurrence: 1, 2, …)` and the
/// row of the latest carries the key's expiry, so the unique index on the event ID is the dedupe key: two
/// instances that receive the same delivery at the same moment both `INSERT … ON CONFLICT (id) DO NOTHING`, one
/// row is stored, and the other reads it back as the original.
///
/// **Commit order.** Events and deliveries are numbered (`event.sequence`, `delivery.id`) by the transaction that
/// inserts them, while it holds ``PostgresSchema/commitOrderLock`` until its COMMIT; numbering and commit are
/// therefore in the same order on every instance. A live stream that has read up to sequence n can never later
/// find an event numbered below n, and a job's deliveries are numbered in the order they became visible — which is
/// what per-job delivery order and `Last-Event-ID` rely on. The price is that event-inserting commits of all
/// instances take turns; each one carries a whole batch.
///
/// **Wake-ups.** Each commit that makes events or deliveries visible sends `NOTIFY fieldgate`; every instance
/// LISTENs and publishes what it hears on ``changes``.
///
/// Call ``run()`` (a `Service`) before using the store, then ``prepare()`` once.
package final class PostgresEventStore: EventStore, StoreChangeAnnouncing, Service {
    package struct Options: Sendable {
        /// How long a request waits for a connection before it is answered 503.
        package var acquireTimeout: Duration = .seconds(2)
        /// Writes per group-commit transaction.
        package var maximumBatch = 512
        /// Writes waiting for a commit at most; beyond, a write fails at once with ``StoreOverloaded``.
        package var maximumQueued = 4_096
        package init() {}
    }

    package let url: PostgresURL
    package let changes = StoreChanges()
    let client: PostgresClient
    let transactions: PostgresTransactions
    let logger: Logger
    let writer: PostgresEventWriter
    let ingest: PostgresGroupCommit<PostgresEventWriter.Write, PostgresEventWriter.Outcome>
    let records: PostgresGroupCommit<PostgresEventWriter.AttemptWrite, RecordedAttempt>
    private let listening = SharedFlag()

    /// True while the LISTEN connection is up: commits of other instances wake this one.
    package var isListening: Bool { listening.value }

    /// Connects lazily: nothing touches the network until ``run()`` runs.
    ///
    /// - Parameter onCommit: called with the number of writes in each committed ingest batch (metrics).
    package init(
        url: PostgresURL,
        logger: Logger,
        options: Options = Options(),
        onCommit: @escaping @Sendable (Int) -> Void = { _ in }
    ) throws {
        self.url = url
        self.logger = logger
        client = PostgresClient(configuration: try PostgresConnectionSettings.client(url), backgroundLogger: logger)
        transactions = PostgresTransactions(client: client, logger: logger, acquireTimeout: options.acquireTimeout)
        let writer = PostgresEventWriter(logger: logger, changes: changes)
        self.writer = writer
        ingest = PostgresGroupCommit(
            label: "ingest",
            maximumBatch: options.maximumBatch,
            maximumQueued: options.maximumQueued,
            onCommit: onCommit
        ) { writes, connection in
            try await writer.insert(writes, on: connection)
        }
        records = PostgresGroupCommit(
            label: "delivery attempts",
            maximumBatch: options.maximumBatch,
            maximumQueued: options.maximumQueued
        ) { attempts, connection in
            try await writer.record(attempts.map { ($0.attempt, $0.disableAfter) }, on: connection)
        }
    }

    /// The connection pool, both group committers and the LISTEN connection, until cancelled or shut down.
    package func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.client.run() }
                group.addTask { await self.ingest.run(on: self.transactions) }
                group.addTask { await self.records.run(on: self.transactions) }
                group.addTask { await self.listenForChanges() }
            }
        }
    }

    /// Migrates the schema (under an advisory lock, so that instances starting together do not race) and checks
    /// that the database answers; call once ``run()`` is running.
    package func prepare() async throws {
        let logger = self.logger
        let client = self.client
        try await transactions.withConnection("prepare") { _ in }
        try await PostgresSchema.migrate(client, logger: logger)
        let setting = try await transactions.withConnection("synchronous_commit") { connection in
            try await connection.query("SHOW synchronous_commit", logger: logger).collect().first?.decode(String.self)
        }
        guard setting != "off" && setting != "local" else {
            throw PostgresStoreError("synchronous_commit is '\(setting ?? "?")'; a 202 needs it on")
        }
    }

    // MARK: Writes

    package func insertIfNew(_ candidate: EventCandidate) async throws -> InsertOutcome {
        guard case .insert(let outcome) = try await ingest.write(Self.write(candidate, replay: nil)) else {
            throw PostgresStoreError("an insert answered as a replay")
        }
        if case .inserted = outcome { changes.publish(.events) }
        return outcome
    }

    package func insertReplay(
        _ candidate: EventCandidate,
        quarantineID: String,
        at instant: UTCTimestamp
    ) async throws -> ReplayInsertOutcome {
        guard
            case .replay(let outcome) = try await ingest.write(
                Self.write(candidate, replay: (quarantineID, instant))
            )
        else { throw PostgresStoreError("a replay answered as an insert") }
        if case .replayed(.inserted) = outcome { changes.publish(.events) }
        return outcome
    }

    /// Serialised here, on the request's task: the committer is one task for all writers.
    static func write(
        _ candidate: EventCandidate,
        replay: (quarantineID: String, at: UTCTimestamp)?
    ) -> PostgresEventWriter.Write {
        PostgresEventWriter.Write(
            candidate: candidate,
            json: ByteBuffer(bytes: candidate.event.jsonBytes),
            headers: StoredJSON.encode(candidate.raw.headers),
            body: ByteBuffer(bytes: candidate.raw.body),
            replay: replay
        )
    }

    package func quarantine(_ request: QuarantinedRequest) async throws {
        let logger = self.logger
        try await transactions.run("quarantine") { connection in
            try await connection.perform(
                """
                INSERT INTO quarantine (id, vendor, tenant, route_suffix, raw_method, raw_path, raw_headers, raw_body,
                                        problem_code, problem_status, problem_title, problem_detail, received_at)
                VALUES (\(request.id), \(request.vendor), \(request.tenant), \(request.routeSuffix),
                        \(request.raw.method), \(request.raw.path), \(StoredJSON.encode(request.raw.headers)),
                        \(ByteBuffer(bytes: request.raw.body)), \(request.problem.code.rawValue), \(request.problem.status),
                        \(request.problem.title), \(request.problem.detail),
                        \(request.receivedAt.millisecondsSinceEpoch))
                """,
                logger: logger
            )
        }
    }

    // MARK: Retention

    /// Oldest first, in one transaction under the commit-order lock: no insert can make one of these events part
    /// of a live key while it goes, and the job rows rebuilt from what is left cannot race a new event of the job.
    package func deleteEvents(receivedBefore instant: UTCTimestamp, now: UTCTimestamp, limit: Int) async throws -> Int {
        let logger = self.logger
        return try await transactions.run("delete events", timeout: PostgresTransactions.longWork) { connection in
            try await connection.perform(
                "SELECT pg_advisory_xact_lock(\(PostgresSchema.commitOrderLock))",
                logger: logger
            )
            var ids: [String] = []
            var jobKeys: Set<String> = []
            for try await (id, jobKey) in try await connection.query(
                """
                SELECT id, job_key FROM event
                WHERE received_at < \(instant.millisecondsSinceEpoch)
                  AND (key_expires_at IS NULL OR key_expires_at <= \(now.millisecondsSinceEpoch))
                  AND (chain_expires_at IS NULL OR chain_expires_at <= \(now.millisecondsSinceEpoch))
                ORDER BY received_at LIMIT \(limit)
                """,
                logger: logger
            ).decode((String, String?).self) {
                ids.append(id)
                if let jobKey { jobKeys.insert(jobKey) }
            }
            guard !ids.isEmpty else { return 0 }
            try await connection.perform(
                """
                WITH deliveries AS (DELETE FROM delivery WHERE event_id = ANY(\(ids)::text[]) RETURNING id),
                     attempts AS (DELETE FROM delivery_attempt WHERE delivery_id IN (SELECT id FROM deliveries)),
                     claims AS (DELETE FROM delivery_claim WHERE delivery_id IN (SELECT id FROM deliveries))
                DELETE FROM event WHERE id = ANY(\(ids)::text[])
                """,
                logger: logger
            )
            try await Self.rebuildJobs(Array(jobKeys), on: connection, logger: logger)
            return ids.count
        }
    }

    /// The job rows of `keys` from the events that are left.
    static func rebuildJobs(_ keys: [String], on connection: PostgresConnection, logger: Logger) async throws {
        guard !keys.isEmpty else { return }
        var events: [String: [(event: CanonicalEvent, sequence: Int64)]] = [:]
        for try await (key, sequence, json) in try await connection.query(
            "SELECT job_key, sequence, json FROM event WHERE job_key = ANY(\(keys)::text[]) ORDER BY sequence",
            logger: logger
        ).decode((String, Int64, ByteBuffer).self) {
            events[key, default: []].append((try CanonicalEvent(decoding: Array(json.readableBytesView)), sequence))
        }
        var columns = JobColumns()
        for key in keys.sorted() {
            if let summary = events[key].flatMap(JobSummary.init(events:)) { columns.append(summary) }
        }
        try await connection.perform(
            "DELETE FROM job WHERE key = ANY(\(keys)::text[])",
            logger: logger
        )
        guard !columns.isEmpty else { return }
        try await connection.perform(
            """
            INSERT INTO job (key, vendor, tenant, job_id, status, vendor_status_code, vendor_status_name, status_at,
                             status_sequence, last_event_at, last_event_id, last_sequence, event_count, updated_at)
            SELECT j.key, j.vendor, j.tenant, j.job_id, NULLIF(j.status, ''), CASE WHEN j.has_code THEN j.code END,
                   CASE WHEN j.has_name THEN j.name END, CASE WHEN j.status_sequence <> -1 THEN j.status_at END,
                   NULLIF(j.status_sequence, -1), j.last_event_at, j.last_event_id, j.last_sequence, j.event_count,
                   j.updated_at
            FROM unnest(\(columns.keys)::text[], \(columns.vendors)::text[], \(columns.tenants)::text[],
                        \(columns.jobIDs)::text[], \(columns.statuses)::text[], \(columns.hasCode)::bool[],
                        \(columns.codes)::text[], \(columns.hasName)::bool[], \(columns.names)::text[],
                        \(columns.statusAts)::int8[], \(columns.statusSequences)::int8[],
                        \(columns.lastEventAts)::int8[], \(columns.lastEventIDs)::text[],
                        \(columns.lastSequences)::int8[], \(columns.eventCounts)::int4[], \(columns.updatedAts)::int8[])
                AS j(key, vendor, tenant, job_id, status, has_code, code, has_name, name, status_at, status_sequence,
                     last_event_at, last_event_id, last_sequence, event_count, updated_at)
            """,
            logger: logger
        )
    }

    package func deleteQuarantinedRequests(receivedBefore instant: UTCTimestamp, limit: Int) async throws -> Int {
        let logger = self.logger
        return try await transactions.run("delete quarantine") { connection in
            try await connection.query(
                """
                DELETE FROM quarantine WHERE sequence IN (
                    SELECT sequence FROM quarantine WHERE received_at < \(instant.millisecondsSinceEpoch)
                    ORDER BY received_at LIMIT \(limit))
                RETURNING 1
                """,
                logger: logger
            ).collect().count
        }
    }

    package func purgeExpiredKeys(before instant: UTCTimestamp) async throws -> Int {
        let logger = self.logger
        return try await transactions.run("purge keys") { connection in
            let rows = try await connection.query(
                """
                UPDATE event SET key_expires_at = NULL
                WHERE key_expires_at <= \(instant.millisecondsSinceEpoch) RETURNING 1
                """,
                logger: logger
            ).collect()
            return rows.count
        }
    }

    package func checkWritable() async throws {
        let logger = self.logger
        try await transactions.run("readiness") { connection in
            try await connection.perform(
                """
                INSERT INTO readiness_probe (id, checked_at) VALUES (1, now())
                ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at
                """,
                logger: logger
            )
        }
    }

    // MARK: Reads

    package func event(id: String) async throws -> StoredEvent? {
        try await read("event") { connection, logger in
            try await connection.query(
                "SELECT \(unescaped: PostgresRows.eventColumns) FROM event WHERE id = \(id)",
                logger: logger
            ).collect().first.map(PostgresRows.storedEvent)
        }
    }

    package func events(_ query: EventQuery) async throws -> Page<StoredEvent> {
        var filter = PostgresFilter()
        filter.add("vendor = ", query.vendor)
        filter.add("tenant = ", query.tenant)
        filter.add("type = ", query.type)
        filter.add("job_key = ", query.jobKey)
        filter.add("status = ", query.status)
        filter.add("received_at >= ", query.since?.millisecondsSinceEpoch)
        filter.add("received_at < ", query.until?.millisecondsSinceEpoch)
        filter.add("sequence < ", query.before)
        let sql =
            "SELECT \(PostgresRows.eventColumns) FROM event \(filter.whereClause) ORDER BY sequence DESC "
            + "LIMIT \(query.limit + 1)"
        let binds = filter.binds
        let fetched = try await read("events") { connection, logger in
            try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect()
                .map(PostgresRows.storedEvent)
        }
        return Page(fetched: fetched, limit: query.limit, sequence: \.sequence)
    }

    package func events(after sequence: Int64, limit: Int) async throws -> [StoredEvent] {
        try await read("events after") { connection, logger in
            try await connection.query(
                """
                SELECT \(unescaped: PostgresRows.eventColumns) FROM event WHERE sequence > \(sequence)
                ORDER BY sequence LIMIT \(limit)
                """,
                logger: logger
            ).collect().map(PostgresRows.storedEvent)
        }
    }

    package func events(jobKey: String) async throws -> [StoredEvent] {
        try await read("job events") { connection, logger in
            try await connection.query(
                "SELECT \(unescaped: PostgresRows.eventColumns) FROM event WHERE job_key = \(jobKey) ORDER BY sequence",
                logger: logger
            ).collect().map(PostgresRows.storedEvent)
        }
    }

    package func quarantinedRequests(_ query: QuarantineQuery) async throws -> Page<QuarantinedRequest> {
        var filter = PostgresFilter()
        filter.add("vendor = ", query.vendor)
        filter.add("tenant = ", query.tenant)
        filter.add("sequence < ", query.before)
        let sql =
            "SELECT \(PostgresRows.quarantineColumns) FROM quarantine \(filter.whereClause) "
            + "ORDER BY sequence DESC LIMIT \(query.limit + 1)"
        let binds = filter.binds
        let fetched = try await read("quarantine") { connection, logger in
            try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect()
                .map(PostgresRows.quarantinedRequest)
        }
        return Page(fetched: fetched, limit: query.limit, sequence: \.sequence)
    }

    package func quarantinedRequest(id: String) async throws -> QuarantinedRequest? {
        try await read("quarantined request") { connection, logger in
            try await connection.query(
                "SELECT \(unescaped: PostgresRows.quarantineColumns) FROM quarantine WHERE id = \(id)",
                logger: logger
            ).collect().first.map(PostgresRows.quarantinedRequest)
        }
    }

    package func jobs(_ query: JobQuery) async throws -> JobPage {
        var filter = PostgresFilter()
        filter.add("vendor = ", query.vendor)
        filter.add("tenant = ", query.tenant)
        filter.add("status = ", query.status?.rawValue)
        filter.add("updated_at < ", query.updatedBefore?.millisecondsSinceEpoch)
        if let after = query.after {
            filter.add("(updated_at, key) < ", after.updatedAt.millisecondsSinceEpoch, after.key)
        }
        let sql =
            "SELECT \(PostgresRows.jobColumns) FROM job \(filter.whereClause) ORDER BY updated_at DESC, key DESC "
            + "LIMIT \(query.limit + 1)"
        let binds = filter.binds
        let fetched = try await read("jobs") { connection, logger in
            try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect()
                .map(PostgresRows.job)
        }
        return JobPage(fetched: fetched, limit: query.limit)
    }

    /// A read on a pooled connection, bounded like every other wait for the database.
    func read<Result: Sendable>(
        _ label: String,
        _ work: @escaping @Sendable (PostgresConnection, Logger) async throws -> Result
    ) async throws -> Result {
        let logger = self.logger
        return try await transactions.withConnection(label) { connection in try await work(connection, logger) }
    }

    // MARK: Notifications

    /// Holds one connection in LISTEN and publishes what every instance's commits announce. After each
    /// (re)connection it publishes everything once: notifications sent while it was not listening are lost.
    func listenForChanges() async {
        var failures = 0
        while !Task.isCancelled {
            let connected = SharedFlag()
            let listening = self.listening
            do {
                let writer = self.writer
                let changes = self.changes
                try await client.withConnection { connection in
                    try await connection.listen(on: PostgresSchema.channel) { notifications in
                        connected.value = true
                        defer { listening.value = false }
                        writer.forgetSubscribers()
                        changes.publish(.everything)
                        // Only after the catch-up wake-up: from here on a wake-up means a commit somewhere.
                        listening.value = true
                        for try await notification in notifications {
                            writer.received(notification.payload)
                        }
                    }
                }
            } catch {
                if !Task.isCancelled {
                    logger.warning("PostgreSQL LISTEN connection lost; reconnecting", metadata: ["error": "\(error)"])
                }
            }
            failures = connected.value ? 0 : failures + 1
            // 100 ms, doubling to 2 s: the pool does its own backoff for the connection underneath.
            let pause = Duration.milliseconds(100 << min(failures, 5))
            try? await Task.sleep(for: min(pause, .seconds(2)))
        }
    }
}

/// What a NOTIFY on ``PostgresSchema/channel`` announces.
enum StoreChangeKind: String {
    case events
    case deliveries
    case subscribers
}

/// A boolean that several tasks read and write.
final class SharedFlag: Sendable {
    private let state = Mutex(false)
    var value: Bool {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
