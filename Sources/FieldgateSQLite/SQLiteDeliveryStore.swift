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
                        disabledReason, retrySchedule, timeoutMilliseconds, maxConcurrency, origin)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    subscriber.id, subscriber.url, subscriber.secret, SQLiteSchema.encode(subscriber.filter.types),
                    SQLiteSchema.encode(subscriber.filter.vendors), SQLiteSchema.encode(subscriber.filter.tenants),
                    SQLiteSchema.encode(subscriber.filter.statuses), subscriber.enabled, subscriber.disabledReason,
                    SQLiteSchema.encode(subscriber.retrySchedule.map { String($0.milliseconds) }),
                    subscriber.timeout.milliseconds, subscriber.maxConcurrency, subscriber.origin.rawValue,
                ]
            )
            self.enabledSubscribers.withLock { $0 = nil }
        }
    }

    package func deleteSubscriber(id: String) async throws -> Bool {
        try await commits.write { database in
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
            filter: SubscriberFilter(
                types: try SQLiteSchema.decodeStrings(row["types"]),
                vendors: try SQLiteSchema.decodeStrings(row["vendors"]),
                tenants: try SQLiteSchema.decodeStrings(row["tenants"]),
                statuses: try SQLiteSchema.decodeStrings(row["statuses"])
            ),
            enabled: row["enabled"],
            disabledReason: row["disabledReason"],
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
        let busyList = paused.sorted()
        return try await commits.write { database in
            var arguments: StatementArguments = [now.millisecondsSinceEpoch, now.millisecondsSinceEpoch]
            var busyClause = ""
            if !busyList.isEmpty {
                busyClause = "AND d.subscriberID NOT IN (\(busyList.map { _ in "?" }.joined(separator: ", ")))"
                arguments += StatementArguments(busyList)
            }
            // Over-fetch: rows of a subscriber at its concurrency limit are passed over below.
            arguments += [limit * 4]
            // A delivery waits while an earlier delivery of the same job to the same subscriber is pending.
            let rows = try Row.fetchAll(
                database,
                sql: """
                    SELECT d.*, e.json AS eventJSON FROM delivery d
                    JOIN subscriber s ON s.id = d.subscriberID AND s.enabled = 1
                    JOIN event e ON e.id = d.eventID
                    WHERE d.state = 'pending' AND d.nextAttemptAt <= ?
                      AND (d.leaseUntil IS NULL OR d.leaseUntil <= ?)
                      \(busyClause)
                      AND (d.jobKey IS NULL OR NOT EXISTS (
                          SELECT 1 FROM delivery p
                          WHERE p.subscriberID = d.subscriberID AND p.jobKey = d.jobKey AND p.state = 'pending'
                            AND p.id < d.id))
                    ORDER BY d.id
                    LIMIT ?
                    """,
                arguments: arguments
            )
            var subscribers: [String: Subscriber] = [:]
            var claimed: [DueDelivery] = []
            var sending = inFlight
            for row in rows where claimed.count < limit {
                let delivery = try Self.delivery(row)
                let subscriber: Subscriber
                if let known = subscribers[delivery.subscriberID] {
                    subscriber = known
                } else {
                    guard
                        let fetched = try Row.fetchOne(
                            database,
                            sql: "SELECT * FROM subscriber WHERE id = ?",
                            arguments: [delivery.subscriberID]
                        ).map(Self.subscriber)
                    else { continue }
                    subscribers[delivery.subscriberID] = fetched
                    subscriber = fetched
                }
                guard sending[subscriber.id, default: 0] < subscriber.maxConcurrency else { continue }
                sending[subscriber.id, default: 0] += 1
                try database.execute(
                    sql: "UPDATE delivery SET leaseUntil = ? WHERE id = ?",
                    arguments: [
                        now.millisecondsSinceEpoch + subscriber.timeout.milliseconds + leaseMargin.milliseconds,
                        delivery.id,
                    ]
                )
                claimed.append(
                    DueDelivery(delivery: delivery, subscriber: subscriber, body: Array(row["eventJSON"] as Data))
                )
            }
            return claimed
        }
    }

    package func record(_ attempt: DeliveryAttempt) async throws {
        try await commits.write { database in
            let at = attempt.at.millisecondsSinceEpoch
            var retryAt: Int64?
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
                try database.execute(
                    sql: """
                        UPDATE subscriber SET enabled = 0, disabledReason = ?
                        WHERE id = (SELECT subscriberID FROM delivery WHERE id = ?)
                        """,
                    arguments: [
                        "the receiver answered 410 Gone at \(attempt.at.rfc3339()); enable it again once it is back",
                        attempt.deliveryID,
                    ]
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
        }
    }

    package func nextDueTime(after now: UTCTimestamp) async throws -> UTCTimestamp? {
        try await pool.read { database in
            try Int64.fetchOne(
                database,
                sql: """
                    SELECT MIN(due) FROM (
                        SELECT MAX(d.nextAttemptAt, COALESCE(d.leaseUntil, 0)) AS due FROM delivery d
                        JOIN subscriber s ON s.id = d.subscriberID AND s.enabled = 1
                        WHERE d.state = 'pending')
                    WHERE due > ?
                    """,
                arguments: [now.millisecondsSinceEpoch]
            ).map(UTCTimestamp.init(millisecondsSinceEpoch:))
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
        try await commits.write { database in
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
        try await commits.write { database in
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
