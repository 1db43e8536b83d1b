package import FieldgateCore
package import FieldgateModel
import GRDB
import Synchronization

import struct Foundation.Data

extension SQLiteEventStore: DeliveryStore {
    // MARK: Outbox rows, in the event's transaction

    /// Writes a pending delivery for every enabled subscriber that wants the event.
    func queueDeliveries(of event: CanonicalEvent, in database: Database) throws {
        let subscribers: [Subscriber]
        if let cached = enabledSubscribers.withLock({ $0 }) {
            subscribers = cached
        } else {
            subscribers = try Self.fetchSubscribers(in: database).filter(\.enabled)
            enabledSubscribers.withLock { $0 = subscribers }
        }
        for subscriber in subscribers where subscriber.filter.matches(event) {
            try Self.insertDelivery(event: event, subscriberID: subscriber.id, due: event.receivedAt, in: database)
        }
    }

    static func insertDelivery(
        event: CanonicalEvent,
        subscriberID: String,
        due: UTCTimestamp,
        in database: Database
    )
        throws
    {
        try database.cachedStatement(
            sql: """
                INSERT INTO delivery (eventID, subscriberID, jobKey, state, attempts, nextAttemptAt, createdAt)
                VALUES (?, ?, ?, 'pending', 0, ?, ?)
                """
        ).execute(arguments: [
            event.id, subscriberID, event.job?.key, due.millisecondsSinceEpoch, due.millisecondsSinceEpoch,
        ])
    }

    // MARK: Subscribers

    package func subscribers() async throws -> [Subscriber] {
        try await pool.read { database in try Self.fetchSubscribers(in: database) }
    }

    package func subscriber(id: String) async throws -> Subscriber? {
        try await pool.read { database in
            try Row.fetchOne(database, sql: "SELECT * FROM subscriber WHERE id = ?", arguments: [id])
                .map(Self.subscriber)
        }
    }

    package func saveSubscriber(_ subscriber: Subscriber) async throws {
        try await commits.write { database in
            try database.execute(
                sql: """
                    INSERT OR REPLACE INTO subscriber (id, url, secret, types, vendors, tenants, statuses, enabled,
                        disabledReason, retrySchedule, timeoutMilliseconds, maxConcurrency, origin, previousSecret,
                        previousSecretExpiresAt, failingSince)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    subscriber.id, subscriber.url, subscriber.secret, SQLiteSchema.encode(subscriber.filter.types),
                    SQLiteSchema.encode(subscriber.filter.vendors), SQLiteSchema.encode(subscriber.filter.tenants),
                    SQLiteSchema.encode(subscriber.filter.statuses), subscriber.enabled, subscriber.disabledReason,
                    SQLiteSchema.encode(subscriber.retrySchedule.map { String($0.milliseconds) }),
                    subscriber.timeout.milliseconds, subscriber.maxConcurrency, subscriber.origin.rawValue,
                    subscriber.previousSecret, subscriber.previousSecretExpiresAt?.millisecondsSinceEpoch,
                    subscriber.failingSince?.millisecondsSinceEpoch,
                ]
            )
            self.enabledSubscribers.withLock { $0 = nil }
        }
        changes.publish(.deliveries)
    }

    package func deleteSubscriber(id: String) async throws -> Bool {
        defer { changes.publish(.deliveries) }
        return try await commits.write { database in
            try database.execute(sql: "DELETE FROM subscriber WHERE id = ?", arguments: [id])
            let deleted = database.changesCount > 0
            try database.execute(
                sql: "DELETE FROM delivery WHERE subscriberID = ? AND state = 'pending'",
                arguments: [id]
            )
            self.enabledSubscribers.withLock { $0 = nil }
            return deleted
        }
    }

    static func fetchSubscribers(in database: Database) throws -> [Subscriber] {
        try Row.fetchAll(database, sql: "SELECT * FROM subscriber ORDER BY id").map(subscriber)
    }

    static func subscriber(_ row: Row) throws -> Subscriber {
        Subscriber(
            id: row["id"],
            url: row["url"],
            secret: row["secret"],
            previousSecret: row["previousSecret"],
            previousSecretExpiresAt: (row["previousSecretExpiresAt"] as Int64?)
                .map(UTCTimestamp.init(millisecondsSinceEpoch:)),
            filter: SubscriberFilter(
                types: try SQLiteSchema.decodeStrings(row["types"]),
                vendors: try SQLiteSchema.decodeStrings(row["vendors"]),
                tenants: try SQLiteSchema.decodeStrings(row["tenants"]),
                statuses: try SQLiteSchema.decodeStrings(row["statuses"])
            ),
            enabled: row["enabled"],
            disabledReason: row["disabledReason"],
            failingSince: (row["failingSince"] as Int64?).map(UTCTimestamp.init(millisecondsSinceEpoch:)),
            retrySchedule: try SQLiteSchema.decodeStrings(row["retrySchedule"]).map {
                .milliseconds(Int64($0) ?? 0)
            },
            timeout: .milliseconds(row["timeoutMilliseconds"] as Int64),
            maxConcurrency: row["maxConcurrency"],
            origin: Subscriber.Origin(rawValue: row["origin"]) ?? .api
        )
    }

    // MARK: Sending

    package func claimDueDeliveries(
        now: UTCTimestamp,
        leaseMargin: Duration,
        limit: Int,
        inFlight: [String: Int],
        paused: Set<String>
    ) async throws -> [DueDelivery] {
        let at = now.millisecondsSinceEpoch
        return try await commits.write { database in
            // Subscriber by subscriber, so that one's backlog costs another nothing: which have room, and since
            // when their oldest due delivery has waited (each an index seek).
            let leased = try database.cachedStatement(
                sql: "SELECT COUNT(*) FROM delivery WHERE subscriberID = ? AND state = 'pending' AND leaseUntil > ?"
            )
            let oldestDue = try database.cachedStatement(
                sql: """
                    SELECT MIN(nextAttemptAt) FROM delivery
                    WHERE subscriberID = ? AND state = 'pending' AND nextAttemptAt <= ?
                    """
            )
            var waiting: [(subscriber: Subscriber, room: Int, since: Int64)] = []
            for subscriber in try Self.fetchSubscribers(in: database)
            where subscriber.enabled && !paused.contains(subscriber.id) {
                let busy = max(
                    try Int.fetchOne(leased, arguments: [subscriber.id, at]) ?? 0,
                    inFlight[subscriber.id] ?? 0
                )
                let room = subscriber.maxConcurrency - busy
                guard room > 0, let since = try Int64.fetchOne(oldestDue, arguments: [subscriber.id, at]) else {
                    continue
                }
                waiting.append((subscriber, room, since))
            }
            waiting.sort { $0.since < $1.since }

            // A delivery waits while an earlier delivery of the same job to the same subscriber is pending.
            let due = try database.cachedStatement(
                sql: """
                    SELECT d.*, e.json AS eventJSON FROM delivery d
                    JOIN event e ON e.id = d.eventID
                    WHERE d.subscriberID = ? AND d.state = 'pending' AND d.nextAttemptAt <= ?
                      AND (d.leaseUntil IS NULL OR d.leaseUntil <= ?)
                      AND (d.jobKey IS NULL OR NOT EXISTS (
                          SELECT 1 FROM delivery p
                          WHERE p.subscriberID = d.subscriberID AND p.jobKey = d.jobKey AND p.state = 'pending'
                            AND p.id < d.id))
                    ORDER BY d.nextAttemptAt, d.id
                    LIMIT ?
                    """
            )
            let lease = try database.cachedStatement(sql: "UPDATE delivery SET leaseUntil = ? WHERE id = ?")
            var claimed: [DueDelivery] = []
            for (subscriber, room, _) in waiting where claimed.count < limit {
                let leaseUntil =
                    at + Bounds.subscriberTimeout.clamp(subscriber.timeout).milliseconds + leaseMargin.milliseconds
                let rows = try Row.fetchAll(due, arguments: [subscriber.id, at, at, min(room, limit - claimed.count)])
                for row in rows {
                    let delivery = try Self.delivery(row)
                    try lease.execute(arguments: [leaseUntil, delivery.id])
                    claimed.append(
                        DueDelivery(delivery: delivery, subscriber: subscriber, body: Array(row["eventJSON"] as Data))
                    )
                }
            }
            return claimed
        }
    }

    package func releaseLeases(deliveryIDs: [Int64]) async throws {
        guard !deliveryIDs.isEmpty else { return }
        try await commits.write { database in
            try database.execute(
                sql: """
                    UPDATE delivery SET leaseUntil = NULL
                    WHERE state = 'pending' AND id IN \(SQLiteSchema.placeholders(deliveryIDs.count))
                    """,
                arguments: StatementArguments(deliveryIDs)
            )
        }
    }

    package func record(_ attempt: DeliveryAttempt, disableAfter: Duration?) async throws -> RecordedAttempt {
        try await commits.write { database in
            let at = attempt.at.millisecondsSinceEpoch
            // A delivery that retention deleted while its attempt was under way: nothing left to record.
            guard
                let subscriberID = try String.fetchOne(
                    database,
                    sql: "SELECT subscriberID FROM delivery WHERE id = ?",
                    arguments: [attempt.deliveryID]
                )
            else { return RecordedAttempt() }
            var retryAt: Int64?
            var disabledReason: String?
            switch attempt.result {
            case .delivered:
                try database.execute(
                    sql: """
                        UPDATE delivery SET state = 'delivered', attempts = attempts + 1, leaseUntil = NULL,
                            lastStatus = ?, lastError = NULL, deliveredAt = ? WHERE id = ?
                        """,
                    arguments: [attempt.statusCode, at, attempt.deliveryID]
                )
            case .retry(let when):
                retryAt = when.millisecondsSinceEpoch
                try database.execute(
                    sql: """
                        UPDATE delivery SET attempts = attempts + 1, leaseUntil = NULL, nextAttemptAt = ?,
                            lastStatus = ?, lastError = ? WHERE id = ?
                        """,
                    arguments: [retryAt, attempt.statusCode, attempt.error, attempt.deliveryID]
                )
            case .dead:
                try database.execute(
                    sql: """
                        UPDATE delivery SET state = 'dead', attempts = attempts + 1, leaseUntil = NULL,
                            lastStatus = ?, lastError = ? WHERE id = ?
                        """,
                    arguments: [attempt.statusCode, attempt.error, attempt.deliveryID]
                )
            case .subscriberGone:
                try database.execute(
                    sql: """
                        UPDATE delivery SET attempts = attempts + 1, leaseUntil = NULL, nextAttemptAt = ?,
                            lastStatus = ?, lastError = ? WHERE id = ?
                        """,
                    arguments: [at, attempt.statusCode, attempt.error, attempt.deliveryID]
                )
                disabledReason =
                    "the receiver answered 410 Gone at \(attempt.at.rfc3339()); enable it again once it is back"
            }
            // Health: a success clears the failing streak, a failure starts it unless it runs already.
            if attempt.result == .delivered {
                try database.execute(
                    sql: "UPDATE subscriber SET failingSince = NULL WHERE id = ? AND failingSince IS NOT NULL",
                    arguments: [subscriberID]
                )
            } else {
                try database.execute(
                    sql: "UPDATE subscriber SET failingSince = COALESCE(failingSince, ?) WHERE id = ?",
                    arguments: [at, subscriberID]
                )
                if disabledReason == nil, let disableAfter,
                    let since = try Int64.fetchOne(
                        database,
                        sql: "SELECT failingSince FROM subscriber WHERE id = ? AND enabled = 1",
                        arguments: [subscriberID]
                    ), at - since >= disableAfter.milliseconds
                {
                    disabledReason = Subscriber.failingReason(
                        since: UTCTimestamp(millisecondsSinceEpoch: since),
                        disableAfter: disableAfter
                    )
                }
            }
            if let reason = disabledReason {
                try database.execute(
                    sql: "UPDATE subscriber SET enabled = 0, disabledReason = ? WHERE id = ?",
                    arguments: [reason, subscriberID]
                )
                self.enabledSubscribers.withLock { $0 = nil }
            }
            try database.execute(
                sql: """
                    INSERT INTO delivery_attempt (deliveryID, at, statusCode, error, durationMilliseconds, result,
                                                  retryAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    attempt.deliveryID, at, attempt.statusCode, attempt.error, attempt.durationMilliseconds,
                    attempt.result.name, retryAt,
                ]
            )
            return RecordedAttempt(disabledReason: disabledReason)
        }
    }

    package func nextDueTime(after now: UTCTimestamp) async throws -> UTCTimestamp? {
        try await pool.read { database in
            // Per enabled subscriber, each an index seek: the next due time and the next lease to run out.
            let due = try database.cachedStatement(
                sql: """
                    SELECT MIN(nextAttemptAt) FROM delivery WHERE subscriberID = ? AND state = 'pending'
                      AND nextAttemptAt > ?
                    """
            )
            let lease = try database.cachedStatement(
                sql:
                    "SELECT MIN(leaseUntil) FROM delivery WHERE subscriberID = ? AND state = 'pending' AND leaseUntil > ?"
            )
            var earliest: Int64?
            for subscriber in try Self.fetchSubscribers(in: database) where subscriber.enabled {
                for statement in [due, lease] {
                    if let time = try Int64.fetchOne(statement, arguments: [subscriber.id, now.millisecondsSinceEpoch])
                    {
                        earliest = min(earliest ?? time, time)
                    }
                }
            }
            return earliest.map(UTCTimestamp.init(millisecondsSinceEpoch:))
        }
    }

    // MARK: Retention and gauges

    package func deleteDeliveredDeliveries(deliveredBefore instant: UTCTimestamp, limit: Int) async throws -> Int {
        try await commits.write { database in
            let ids = try Int64.fetchAll(
                database,
                sql: """
                    SELECT id FROM delivery WHERE state = 'delivered' AND deliveredAt < ?
                    ORDER BY deliveredAt LIMIT ?
                    """,
                arguments: [instant.millisecondsSinceEpoch, limit]
            )
            guard !ids.isEmpty else { return 0 }
            let list = SQLiteSchema.placeholders(ids.count)
            try database.execute(
                sql: "DELETE FROM delivery_attempt WHERE deliveryID IN \(list)",
                arguments: StatementArguments(ids)
            )
            try database.execute(sql: "DELETE FROM delivery WHERE id IN \(list)", arguments: StatementArguments(ids))
            return ids.count
        }
    }

    package func deliveryBacklog() async throws -> [DeliveryBacklog] {
        try await pool.read { database in
            var backlog: [String: DeliveryBacklog] = [:]
            for id in try String.fetchAll(database, sql: "SELECT id FROM subscriber") {
                backlog[id] = DeliveryBacklog(subscriberID: id, pending: 0, dead: 0, oldestPendingSince: nil)
            }
            let rows = try Row.fetchAll(
                database,
                sql: """
                    SELECT subscriberID, state, COUNT(*) AS count, MIN(id) AS oldest FROM delivery
                    WHERE state IN ('pending', 'dead') GROUP BY subscriberID, state
                    """
            )
            for row in rows {
                let id: String = row["subscriberID"]
                var entry =
                    backlog[id] ?? DeliveryBacklog(subscriberID: id, pending: 0, dead: 0, oldestPendingSince: nil)
                if row["state"] as String == "pending" {
                    entry.pending = row["count"]
                    entry.oldestPendingSince = try Int64.fetchOne(
                        database,
                        sql: "SELECT createdAt FROM delivery WHERE id = ?",
                        arguments: [row["oldest"] as Int64]
                    ).map(UTCTimestamp.init(millisecondsSinceEpoch:))
                } else {
                    entry.dead = row["count"]
                }
                backlog[id] = entry
            }
            return backlog.values.sorted { $0.subscriberID < $1.subscriberID }
        }
    }

    // MARK: Admin

    package func deliveries(_ query: DeliveryQuery) async throws -> Page<Delivery> {
        var filter = SQLFilter()
        filter.add("subscriberID = ?", query.subscriberID)
        filter.add("state = ?", query.state?.rawValue)
        filter.add("eventID = ?", query.eventID)
        filter.add("id < ?", query.before)
        return try await newestFirst(
            from: "delivery",
            by: "id",
            filter,
            limit: query.limit,
            sequence: \.id,
            Self.delivery
        )
    }

    package func delivery(id: Int64) async throws -> Delivery? {
        try await pool.read { database in
            try Row.fetchOne(database, sql: "SELECT * FROM delivery WHERE id = ?", arguments: [id]).map(Self.delivery)
        }
    }

    package func attempts(deliveryID: Int64) async throws -> [DeliveryAttempt] {
        try await pool.read { database in
            try Row.fetchAll(
                database,
                sql: "SELECT * FROM delivery_attempt WHERE deliveryID = ? ORDER BY at, rowid",
                arguments: [deliveryID]
            ).map { row in
                let retryAt = (row["retryAt"] as Int64?).map(UTCTimestamp.init(millisecondsSinceEpoch:))
                return DeliveryAttempt(
                    deliveryID: row["deliveryID"],
                    at: UTCTimestamp(millisecondsSinceEpoch: row["at"]),
                    statusCode: row["statusCode"],
                    error: row["error"],
                    durationMilliseconds: row["durationMilliseconds"],
                    result: DeliveryAttempt.Result(name: row["result"], retryAt: retryAt)
                )
            }
        }
    }

    package func redeliver(id: Int64, now: UTCTimestamp) async throws -> Delivery? {
        defer { changes.publish(.deliveries) }
        return try await commits.write { database in
            try database.execute(
                sql: """
                    UPDATE delivery SET state = 'pending', attempts = 0, nextAttemptAt = ?, leaseUntil = NULL,
                        deliveredAt = NULL WHERE id = ?
                    """,
                arguments: [now.millisecondsSinceEpoch, id]
            )
            return try Row.fetchOne(database, sql: "SELECT * FROM delivery WHERE id = ?", arguments: [id])
                .map(Self.delivery)
        }
    }

    package func recover(subscriberID: String, since: UTCTimestamp, now: UTCTimestamp) async throws -> Int {
        defer { changes.publish(.deliveries) }
        return try await commits.write { database in
            guard
                let subscriber = try Row.fetchOne(
                    database,
                    sql: "SELECT * FROM subscriber WHERE id = ?",
                    arguments: [subscriberID]
                ).map(Self.subscriber)
            else { return 0 }
            // Events already waiting for this subscriber are not queued twice.
            let rows = try Row.fetchAll(
                database,
                sql: """
                    SELECT json FROM event e WHERE e.receivedAt >= ? AND NOT EXISTS (
                        SELECT 1 FROM delivery d WHERE d.eventID = e.id AND d.subscriberID = ? AND d.state = 'pending')
                    ORDER BY e.sequence
                    """,
                arguments: [since.millisecondsSinceEpoch, subscriberID]
            )
            var queued = 0
            for row in rows {
                let event = try CanonicalEvent(decoding: Array(row["json"] as Data))
                guard subscriber.filter.matches(event) else { continue }
                try Self.insertDelivery(event: event, subscriberID: subscriberID, due: now, in: database)
                queued += 1
            }
            return queued
        }
    }

    static func delivery(_ row: Row) throws -> Delivery {
        Delivery(
            id: row["id"],
            eventID: row["eventID"],
            subscriberID: row["subscriberID"],
            jobKey: row["jobKey"],
            state: Delivery.State(rawValue: row["state"]) ?? .pending,
            attempts: row["attempts"],
            nextAttemptAt: UTCTimestamp(millisecondsSinceEpoch: row["nextAttemptAt"]),
            lastStatus: row["lastStatus"],
            lastError: row["lastError"],
            createdAt: UTCTimestamp(millisecondsSinceEpoch: row["createdAt"]),
            deliveredAt: (row["deliveredAt"] as Int64?).map(UTCTimestamp.init(millisecondsSinceEpoch:))
        )
    }
}
