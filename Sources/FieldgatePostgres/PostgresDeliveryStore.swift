package import FieldgateCore
package import FieldgateModel
import Logging
import NIOCore
import PostgresNIO

extension PostgresEventStore: DeliveryStore {
    // MARK: Subscribers

    package func subscribers() async throws -> [Subscriber] {
        try await read("subscribers") { connection, logger in
            try await connection.query(
                "SELECT \(unescaped: PostgresRows.subscriberColumns) FROM subscriber ORDER BY id",
                logger: logger
            ).collect().map(PostgresRows.subscriber)
        }
    }

    package func subscriber(id: String) async throws -> Subscriber? {
        try await read("subscriber") { connection, logger in
            try await connection.query(
                "SELECT \(unescaped: PostgresRows.subscriberColumns) FROM subscriber WHERE id = \(id)",
                logger: logger
            ).collect().first.map(PostgresRows.subscriber)
        }
    }

    package func saveSubscriber(_ subscriber: Subscriber) async throws {
        let logger = self.logger
        try await transactions.run("save subscriber") { connection in
            try await connection.perform(
                """
                INSERT INTO subscriber (id, url, secret, previous_secret, previous_secret_expires_at, types, vendors,
                                        tenants, statuses, enabled, disabled_reason, failing_since, retry_schedule,
                                        timeout_ms, max_concurrency, origin)
                VALUES (\(subscriber.id), \(subscriber.url), \(subscriber.secret), \(subscriber.previousSecret),
                        \(subscriber.previousSecretExpiresAt?.millisecondsSinceEpoch), \(subscriber.filter.types),
                        \(subscriber.filter.vendors), \(subscriber.filter.tenants), \(subscriber.filter.statuses),
                        \(subscriber.enabled), \(subscriber.disabledReason),
                        \(subscriber.failingSince?.millisecondsSinceEpoch),
                        \(subscriber.retrySchedule.map(\.milliseconds)), \(subscriber.timeout.milliseconds),
                        \(subscriber.maxConcurrency), \(subscriber.origin.rawValue))
                ON CONFLICT (id) DO UPDATE SET
                    url = excluded.url, secret = excluded.secret, previous_secret = excluded.previous_secret,
                    previous_secret_expires_at = excluded.previous_secret_expires_at, types = excluded.types,
                    vendors = excluded.vendors, tenants = excluded.tenants, statuses = excluded.statuses,
                    enabled = excluded.enabled, disabled_reason = excluded.disabled_reason,
                    failing_since = excluded.failing_since, retry_schedule = excluded.retry_schedule,
                    timeout_ms = excluded.timeout_ms, max_concurrency = excluded.max_concurrency,
                    origin = excluded.origin
                """,
                logger: logger
            )
            try await Self.notify(.subscribers, on: connection, logger: logger)
        }
        subscribersChanged()
    }

    package func deleteSubscriber(id: String) async throws -> Bool {
        let logger = self.logger
        let deleted = try await transactions.run("delete subscriber") { connection in
            let rows = try await connection.query(
                "DELETE FROM subscriber WHERE id = \(id) RETURNING id",
                logger: logger
            ).collect()
            try await connection.perform(
                """
                WITH gone AS (DELETE FROM delivery WHERE subscriber_id = \(id) AND state = 'pending' RETURNING id)
                DELETE FROM delivery_claim WHERE delivery_id IN (SELECT id FROM gone)
                """,
                logger: logger
            )
            try await Self.notify(.subscribers, on: connection, logger: logger)
            return !rows.isEmpty
        }
        subscribersChanged()
        return deleted
    }

    /// After this instance changed a subscriber: its own cache goes at once, not when its NOTIFY comes back.
    func subscribersChanged() {
        writer.forgetSubscribers()
        changes.publish(.deliveries)
    }

    static func notify(_ kind: StoreChangeKind, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.perform("SELECT pg_notify(\(PostgresSchema.channel), \(kind.rawValue))", logger: logger)
    }

    // MARK: Sending

    /// Fair claims in one statement: per enabled, unpaused subscriber, its room — `maxConcurrency` less the larger
    /// of its live leases (in flight on every instance) and this instance's count — and, for those with room and
    /// something due, oldest due first, its due deliveries through the (subscriber, due time) index.
    ///
    /// `FOR UPDATE SKIP LOCKED`: instances claiming at the same moment take different rows. The per-job rule is
    /// in SQL too: a delivery is claimable only while no earlier delivery of its job to its subscriber is pending
    /// — leased or not, on any instance — so `SKIP LOCKED` cannot hand the next event of a job to one instance
    /// while another still sends its head.
    package func claimDueDeliveries(
        now: UTCTimestamp,
        leaseMargin: Duration,
        limit: Int,
        inFlight: [String: Int],
        paused: Set<String>
    ) async throws -> [DueDelivery] {
        guard limit > 0 else { return [] }
        let logger = self.logger
        let writer = self.writer
        let at = now.millisecondsSinceEpoch
        let pausedList = paused.sorted()
        let flightIDs = Array(inFlight.keys)
        let flightCounts = flightIDs.map { Int64(inFlight[$0] ?? 0) }
        let margin = leaseMargin.milliseconds
        let minimum = Bounds.subscriberTimeout.lowerBound.milliseconds
        let maximum = Bounds.subscriberTimeout.upperBound.milliseconds
        let watch = transactions.watch
        let timeout = transactions.workTimeout
        return try await transactions.withConnection("claim deliveries") { connection in
            let connection = GuardedConnection(connection: connection, watch: watch, logger: logger, timeout: timeout)
            let subscribers = try await writer.enabledSubscribers(on: connection)
            // Nothing to claim for nobody: the engine wakes at every commit, and most have no subscriber to serve.
            guard !subscribers.isEmpty else { return [] }
            let byID = Dictionary(subscribers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            // One wait for the whole transaction. A lease lost in a database crash only means the delivery is sent
            // again (same webhook-id), so the claim does not wait for its commit to reach the disk.
            let results: [PostgresQueryResult]
            do {
                results = try await PostgresTransactions.pipeline(
                    [
                        "BEGIN", "SET LOCAL synchronous_commit TO off",
                        """
                        SELECT * FROM fieldgate_claim(\(at), \(pausedList)::text[], \(flightIDs)::text[],
                                                      \(flightCounts)::int8[], \(Int32(clamping: limit)), \(margin),
                                                      \(minimum), \(maximum))
                        """,
                        "COMMIT",
                    ],
                    on: connection
                )
                try PostgresTransactions.checkCommitted(results.last)
            } catch {
                await PostgresTransactions.abandon(on: connection)
                throw error
            }
            var claimed: [DueDelivery] = []
            var unknown = false
            for row in results[2].rows {
                let (delivery, json) = try PostgresRows.claimedDelivery(row)
                guard let subscriber = byID[delivery.subscriberID] else {
                    // Enabled since the cache was read: its lease runs out and the next claim sends it.
                    unknown = true
                    continue
                }
                claimed.append(
                    DueDelivery(delivery: delivery, subscriber: subscriber, body: Array(json.readableBytesView))
                )
            }
            if unknown { writer.forgetSubscribers() }
            return claimed
        }
    }

    package func releaseLeases(deliveryIDs: [Int64]) async throws {
        guard !deliveryIDs.isEmpty else { return }
        let logger = self.logger
        try await transactions.run("release leases") { connection in
            try await connection.perform(
                "DELETE FROM delivery_claim WHERE delivery_id = ANY(\(deliveryIDs)::int8[])",
                logger: logger
            )
            try await Self.notify(.deliveries, on: connection, logger: logger)
        }
    }

    package func record(_ attempt: DeliveryAttempt, disableAfter: Duration?) async throws -> RecordedAttempt {
        let recorded = try await records.write(
            PostgresEventWriter.AttemptWrite(attempt: attempt, disableAfter: disableAfter)
        )
        if recorded.disabledReason != nil { changes.publish(.deliveries) }
        return recorded
    }

    package func nextDueTime(after now: UTCTimestamp) async throws -> UTCTimestamp? {
        let at = now.millisecondsSinceEpoch
        let writer = self.writer
        return try await read("next due time") { connection, logger in
            guard !(try await writer.enabledSubscribers(on: connection)).isEmpty else { return nil }
            return try await connection.query("SELECT fieldgate_next_due(\(at))", logger: logger).collect().first?
                .decode(Int64?.self).map(UTCTimestamp.init(millisecondsSinceEpoch:))
        }
    }

    // MARK: Retention and gauges

    package func deleteDeliveredDeliveries(deliveredBefore instant: UTCTimestamp, limit: Int) async throws -> Int {
        let logger = self.logger
        return try await transactions.run("delete delivered") { connection in
            try await connection.query(
                """
                WITH chosen AS (
                    SELECT id FROM delivery WHERE state = 'delivered' AND delivered_at < \(instant.millisecondsSinceEpoch)
                    ORDER BY delivered_at LIMIT \(limit)
                ),
                attempts AS (DELETE FROM delivery_attempt WHERE delivery_id IN (SELECT id FROM chosen)),
                claims AS (DELETE FROM delivery_claim WHERE delivery_id IN (SELECT id FROM chosen))
                DELETE FROM delivery WHERE id IN (SELECT id FROM chosen) RETURNING 1
                """,
                logger: logger
            ).collect().count
        }
    }

    package func deliveryBacklog() async throws -> [DeliveryBacklog] {
        try await read("delivery backlog") { connection, logger in
            try await connection.query(
                """
                SELECT s.id,
                       (SELECT count(*) FROM delivery d WHERE d.subscriber_id = s.id AND d.state = 'pending'),
                       (SELECT count(*) FROM delivery d WHERE d.subscriber_id = s.id AND d.state = 'dead'),
                       (SELECT d.created_at FROM delivery d WHERE d.subscriber_id = s.id AND d.state = 'pending'
                        ORDER BY d.id LIMIT 1)
                FROM subscriber s ORDER BY s.id
                """,
                logger: logger
            ).collect().map { row in
                let (id, pending, dead, oldest) = try row.decode((String, Int64, Int64, Int64?).self)
                return DeliveryBacklog(
                    subscriberID: id,
                    pending: Int(pending),
                    dead: Int(dead),
                    oldestPendingSince: oldest.map(UTCTimestamp.init(millisecondsSinceEpoch:))
                )
            }
        }
    }

    // MARK: Admin

    package func deliveries(_ query: DeliveryQuery) async throws -> Page<Delivery> {
        var filter = PostgresFilter()
        filter.add("subscriber_id = ", query.subscriberID)
        filter.add("state = ", query.state?.rawValue)
        filter.add("event_id = ", query.eventID)
        filter.add("id < ", query.before)
        let sql =
            "SELECT \(PostgresRows.deliveryColumns) FROM delivery \(filter.whereClause) ORDER BY id DESC "
            + "LIMIT \(query.limit + 1)"
        let binds = filter.binds
        let fetched = try await read("deliveries") { connection, logger in
            try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect()
                .map(PostgresRows.delivery)
        }
        return Page(fetched: fetched, limit: query.limit, sequence: \.id)
    }

    package func delivery(id: Int64) async throws -> Delivery? {
        try await read("delivery") { connection, logger in
            try await connection.query(
                "SELECT \(unescaped: PostgresRows.deliveryColumns) FROM delivery WHERE id = \(id)",
                logger: logger
            ).collect().first.map(PostgresRows.delivery)
        }
    }

    package func attempts(deliveryID: Int64) async throws -> [DeliveryAttempt] {
        try await read("attempts") { connection, logger in
            try await connection.query(
                """
                SELECT delivery_id, at, status_code, error, duration_ms, result, retry_at FROM delivery_attempt
                WHERE delivery_id = \(deliveryID) ORDER BY at, serial
                """,
                logger: logger
            ).collect().map { row in
                let (deliveryID, at, statusCode, error, duration, result, retryAt) = try row.decode(
                    (Int64, Int64, Int?, String?, Int64, String, Int64?).self
                )
                return DeliveryAttempt(
                    deliveryID: deliveryID,
                    at: UTCTimestamp(millisecondsSinceEpoch: at),
                    statusCode: statusCode,
                    error: error,
                    durationMilliseconds: duration,
                    result: DeliveryAttempt.Result(
                        name: result,
                        retryAt: retryAt.map(UTCTimestamp.init(millisecondsSinceEpoch:))
                    )
                )
            }
        }
    }

    package func redeliver(id: Int64, now: UTCTimestamp) async throws -> Delivery? {
        let logger = self.logger
        let delivery = try await transactions.run("redeliver") { connection in
            let delivery = try await connection.query(
                """
                WITH released AS (DELETE FROM delivery_claim WHERE delivery_id = \(id))
                UPDATE delivery SET state = 'pending', attempts = 0, next_attempt_at = \(now.millisecondsSinceEpoch),
                    delivered_at = NULL
                WHERE id = \(id)
                RETURNING \(unescaped: PostgresRows.deliveryColumns)
                """,
                logger: logger
            ).collect().first.map(PostgresRows.delivery)
            try await Self.notify(.deliveries, on: connection, logger: logger)
            return delivery
        }
        changes.publish(.deliveries)
        return delivery
    }

    /// A page of events at a time, each page in a transaction of its own under the commit-order lock, so that a
    /// recovery over months of events holds ingest back only for a page's worth at a time. Events already waiting
    /// for the subscriber are not queued twice, so a recovery cut short can simply be run again.
    package func recover(subscriberID: String, since: UTCTimestamp, now: UTCTimestamp) async throws -> Int {
        guard let subscriber = try await subscriber(id: subscriberID) else { return 0 }
        let logger = self.logger
        // Pages go by sequence (the primary key), from the first event received since then.
        var after =
            try await read("recover start") { connection, logger in
                try await connection.query(
                    "SELECT min(sequence) FROM event WHERE received_at >= \(since.millisecondsSinceEpoch)",
                    logger: logger
                ).collect().first?.decode(Int64?.self)
            }.map { $0 - 1 } ?? Int64.max
        var queued = 0
        var analyzed = false
        while true {
            let from = after
            let (count, last) = try await transactions.run("recover") { connection -> (Int, Int64?) in
                // New delivery IDs are numbered under the commit-order lock, like those written with their events.
                try await connection.perform(
                    "SELECT pg_advisory_xact_lock(\(PostgresSchema.commitOrderLock))",
                    logger: logger
                )
                var nextID =
                    try await connection.query(
                        "SELECT COALESCE(max(id), 0) FROM delivery",
                        logger: logger
                    ).collect().first?.decode(Int64.self) ?? 0
                var deliveries = DeliveryColumns()
                var last: Int64?
                // A page of the primary key; the JSON only of events received since then and not waiting for
                // this subscriber already (they are not queued twice).
                for try await (sequence, json) in try await connection.query(
                    """
                    SELECT e.sequence, CASE WHEN e.received_at >= \(since.millisecondsSinceEpoch) AND NOT EXISTS (
                        SELECT 1 FROM delivery d WHERE d.event_id = e.id AND d.subscriber_id = \(subscriberID)
                          AND d.state = 'pending') THEN e.json END
                    FROM (SELECT sequence, id, received_at, json FROM event WHERE sequence > \(from)
                          ORDER BY sequence LIMIT \(Self.recoveryPage)) e
                    ORDER BY e.sequence
                    """,
                    logger: logger
                ).decode((Int64, ByteBuffer?).self) {
                    last = sequence
                    guard let json else { continue }
                    let event = try CanonicalEvent(decoding: Array(json.readableBytesView))
                    guard subscriber.filter.matches(event) else { continue }
                    nextID += 1
                    deliveries.append(id: nextID, event: event, subscriberID: subscriberID, due: now)
                }
                guard !deliveries.ids.isEmpty else { return (0, last) }
                try await connection.perform(
                    """
                    INSERT INTO delivery (id, event_id, subscriber_id, job_key, state, attempts, next_attempt_at,
                                          created_at)
                    SELECT q.id, q.event_id, q.subscriber_id, NULLIF(q.job_key, ''), 'pending', 0, q.due, q.due
                    FROM unnest(\(deliveries.ids)::int8[], \(deliveries.eventIDs)::text[],
                                \(deliveries.subscriberIDs)::text[], \(deliveries.jobKeys)::text[],
                                \(deliveries.due)::int8[]) AS q(id, event_id, subscriber_id, job_key, due)
                    """,
                    logger: logger
                )
                try await Self.notify(.deliveries, on: connection, logger: logger)
                return (deliveries.ids.count, last)
            }
            queued += count
            if count > 0 { changes.publish(.deliveries) }
            // The claims that start sending this page plan for the table as it is now, not as it was.
            if count > 0 && !analyzed {
                await analyze(["delivery"])
                analyzed = true
            }
            guard let last else { break }
            after = last
        }
        if queued > Self.recoveryPage { await analyze(["delivery"]) }
        return queued
    }

    /// Refreshes the planner's statistics of `tables` after a bulk change, at once rather than at autovacuum's
    /// next visit (about once a minute per database): a recovery queues deliveries faster than that, and the
    /// claim planned for a table without statistics — measured on 10,000 recovered deliveries, 105–111 µs per
    /// claimed row, against 38–45 µs once `ANALYZE` had seen them (docs/PERFORMANCE.md). Only an optimisation: a
    /// failure is logged, and autovacuum catches up later.
    func analyze(_ tables: [String]) async {
        let logger = self.logger
        do {
            try await transactions.run("analyze", timeout: PostgresTransactions.longWork) { connection in
                for table in tables {
                    try await connection.perform(PostgresQuery(unsafeSQL: "ANALYZE \(table)"), logger: logger)
                }
            }
        } catch {
            logger.warning(
                "refreshing table statistics failed",
                metadata: ["tables": "\(tables.joined(separator: ","))", "error": "\(error)"]
            )
        }
    }

    /// Events per recovery transaction.
    static let recoveryPage = 1_000

    /// `a, b` as `d.a, d.b`.
    static func prefixed(_ columns: String, _ table: String) -> String {
        columns.split(separator: ",").map { "\(table).\($0.trimmingPrefix(" "))" }.joined(separator: ", ")
    }
}
