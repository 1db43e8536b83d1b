package import FieldgateCore
import FieldgateModel
import Logging
import NIOCore
import PostgresNIO

/// The PostgreSQL store as the target of `fieldgate store copy` (and either side of its verification): rows keep
/// their numbers, a row that is already there is left alone, so a copy that stopped resumes where it was.
extension PostgresEventStore: StoreImporting {
    // MARK: Export

    package func exportSubscribers() async throws -> [Subscriber] {
        try await subscribers()
    }

    package func exportEvents(after sequence: Int64, limit: Int) async throws -> [ExportedEvent] {
        try await read("export events") { connection, logger in
            try await connection.query(
                """
                SELECT \(unescaped: PostgresRows.eventColumns), key_expires_at, chain_expires_at FROM event
                WHERE sequence > \(sequence) ORDER BY sequence LIMIT \(limit)
                """,
                logger: logger
            ).collect().map { row in
                let (sequence, json, method, path, headers, body, keyExpiresAt, chainExpiresAt) = try row.decode(
                    (Int64, ByteBuffer, String, String, String, ByteBuffer, Int64?, Int64?).self
                )
                return ExportedEvent(
                    stored: StoredEvent(
                        event: try CanonicalEvent(decoding: Array(json.readableBytesView)),
                        raw: RedactedRequest(
                            method: method,
                            path: path,
                            headers: try StoredJSON.decodeHeaders(headers),
                            body: Array(body.readableBytesView)
                        ),
                        sequence: sequence
                    ),
                    keyExpiresAt: keyExpiresAt.map(UTCTimestamp.init(millisecondsSinceEpoch:)),
                    chainExpiresAt: chainExpiresAt.map(UTCTimestamp.init(millisecondsSinceEpoch:))
                )
            }
        }
    }

    package func exportQuarantine(after sequence: Int64, limit: Int) async throws -> [QuarantinedRequest] {
        try await read("export quarantine") { connection, logger in
            try await connection.query(
                """
                SELECT \(unescaped: PostgresRows.quarantineColumns) FROM quarantine
                WHERE sequence > \(sequence) ORDER BY sequence LIMIT \(limit)
                """,
                logger: logger
            ).collect().map(PostgresRows.quarantinedRequest)
        }
    }

    package func exportDeliveries(after id: Int64, limit: Int) async throws -> [Delivery] {
        try await read("export deliveries") { connection, logger in
            try await connection.query(
                """
                SELECT \(unescaped: PostgresRows.deliveryColumns) FROM delivery
                WHERE id > \(id) ORDER BY id LIMIT \(limit)
                """,
                logger: logger
            ).collect().map(PostgresRows.delivery)
        }
    }

    package func exportAttempts(after position: Int64, limit: Int) async throws -> [ExportedAttempt] {
        try await read("export attempts") { connection, logger in
            try await connection.query(
                """
                SELECT serial, delivery_id, at, status_code, error, duration_ms, result, retry_at FROM delivery_attempt
                WHERE serial > \(position) ORDER BY serial LIMIT \(limit)
                """,
                logger: logger
            ).collect().map { row in
                let (serial, deliveryID, at, statusCode, error, duration, result, retryAt) = try row.decode(
                    (Int64, Int64, Int64, Int?, String?, Int64, String, Int64?).self
                )
                return ExportedAttempt(
                    position: serial,
                    attempt: DeliveryAttempt(
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
                )
            }
        }
    }

    package func exportCounts() async throws -> [StoreTable: Int] {
        try await read("counts") { connection, logger in
            let row = try await connection.query(
                """
                SELECT (SELECT count(*) FROM subscriber), (SELECT count(*) FROM event), (SELECT count(*) FROM quarantine),
                       (SELECT count(*) FROM delivery), (SELECT count(*) FROM delivery_attempt)
                """,
                logger: logger
            ).collect().first
            guard let row else { return [:] }
            let (subscribers, events, quarantine, deliveries, attempts) = try row.decode(
                (Int64, Int64, Int64, Int64, Int64).self
            )
            return [
                .subscribers: Int(subscribers), .events: Int(events), .quarantine: Int(quarantine),
                .deliveries: Int(deliveries), .attempts: Int(attempts),
            ]
        }
    }

    // MARK: Import

    package func beginImport(from source: String) async throws {
        let logger = self.logger
        try await transactions.run("begin import") { connection in
            var sources: [String] = []
            for try await name in try await connection.query("SELECT source FROM store_copy", logger: logger)
                .decode(String.self)
            {
                sources.append(name)
            }
            if !sources.isEmpty, !sources.contains(source) {
                throw PostgresStoreError(
                    "this database holds a copy of \(sources.joined(separator: ", ")), not of \(source); copy into "
                        + "an empty database"
                )
            }
            if sources.isEmpty {
                let used =
                    try await connection.query(
                        """
                        SELECT EXISTS (SELECT 1 FROM event) OR EXISTS (SELECT 1 FROM quarantine)
                            OR EXISTS (SELECT 1 FROM delivery)
                        """,
                        logger: logger
                    ).collect().first?.decode(Bool.self) ?? false
                if used {
                    throw PostgresStoreError(
                        "this database already holds events, quarantined requests or deliveries of its own; copy into "
                            + "an empty database"
                    )
                }
                try await connection.perform(
                    "INSERT INTO store_copy (source, started_at) VALUES (\(source), now())",
                    logger: logger
                )
            }
        }
    }

    package func importSubscribers(_ subscribers: [Subscriber]) async throws {
        for subscriber in subscribers { try await saveSubscriber(subscriber) }
    }

    package func importEvents(_ rows: [ExportedEvent]) async throws {
        guard !rows.isEmpty else { return }
        var built = EventColumns()
        for row in rows {
            let stored = row.stored
            let candidate = EventCandidate(
                event: stored.event,
                key: DedupeKey(digest: String(repeating: "0", count: 64)),
                keyExpiresAt: row.keyExpiresAt ?? UTCTimestamp(millisecondsSinceEpoch: -1),
                raw: stored.raw
            )
            built.append(
                stored.event,
                write: Self.write(candidate, replay: nil),
                sequence: stored.sequence,
                chainExpiresAt: row.chainExpiresAt?.millisecondsSinceEpoch
            )
        }
        let logger = self.logger
        let columns = built
        try await transactions.run("import events", timeout: PostgresTransactions.longWork) { connection in
            try await connection.perform(
                "SELECT pg_advisory_xact_lock(\(PostgresSchema.commitOrderLock))",
                logger: logger
            )
            try await connection.perform(
                """
                INSERT INTO event (sequence, id, vendor, tenant, type, job_key, status, time, received_at, json,
                                   raw_method, raw_path, raw_headers, raw_body, key_expires_at, chain_expires_at)
                SELECT i.sequence, i.id, i.vendor, i.tenant, i.type, NULLIF(i.job_key, ''), NULLIF(i.status, ''),
                       i.time, i.received_at, i.json, i.raw_method, i.raw_path, i.raw_headers, i.raw_body,
                       NULLIF(i.key_expires_at, -1), NULLIF(i.chain_expires_at, -1)
                FROM unnest(\(columns.sequences)::int8[], \(columns.ids)::text[], \(columns.vendors)::text[],
                            \(columns.tenants)::text[], \(columns.types)::text[], \(columns.jobKeys)::text[],
                            \(columns.statuses)::text[], \(columns.times)::int8[], \(columns.receivedAts)::int8[],
                            \(columns.jsons)::bytea[], \(columns.methods)::text[], \(columns.paths)::text[],
                            \(columns.headers)::text[], \(columns.bodies)::bytea[], \(columns.expiries)::int8[],
                            \(columns.chainExpiries)::int8[])
                    AS i(sequence, id, vendor, tenant, type, job_key, status, time, received_at, json, raw_method,
                         raw_path, raw_headers, raw_body, key_expires_at, chain_expires_at)
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
    }

    package func importQuarantine(_ requests: [QuarantinedRequest]) async throws {
        let logger = self.logger
        for request in requests {
            _ = try await transactions.run("import quarantine", timeout: PostgresTransactions.longWork) { connection in
                try await connection.perform(
                    """
                    INSERT INTO quarantine (sequence, id, vendor, tenant, route_suffix, raw_method, raw_path,
                                            raw_headers, raw_body, problem_code, problem_status, problem_title,
                                            problem_detail, received_at, replayed_as, replayed_at)
                    VALUES (\(request.sequence), \(request.id), \(request.vendor), \(request.tenant),
                            \(request.routeSuffix), \(request.raw.method), \(request.raw.path),
                            \(StoredJSON.encode(request.raw.headers)), \(ByteBuffer(bytes: request.raw.body)),
                            \(request.problem.code.rawValue), \(request.problem.status), \(request.problem.title),
                            \(request.problem.detail), \(request.receivedAt.millisecondsSinceEpoch),
                            \(request.replayedAs), \(request.replayedAt?.millisecondsSinceEpoch))
                    ON CONFLICT DO NOTHING
                    """,
                    logger: logger
                )
            }
        }
    }

    package func importDeliveries(_ deliveries: [Delivery]) async throws {
        guard !deliveries.isEmpty else { return }
        let logger = self.logger
        let ids = deliveries.map(\.id)
        let eventIDs = deliveries.map(\.eventID)
        let subscriberIDs = deliveries.map(\.subscriberID)
        let jobKeys = deliveries.map { $0.jobKey ?? "" }
        let states = deliveries.map(\.state.rawValue)
        let attempts = deliveries.map { Int64($0.attempts) }
        let nextAttempts = deliveries.map(\.nextAttemptAt.millisecondsSinceEpoch)
        let statuses = deliveries.map { $0.lastStatus.map(Int64.init) ?? -1 }
        let hasError = deliveries.map { $0.lastError != nil }
        let errors = deliveries.map { $0.lastError ?? "" }
        let created = deliveries.map(\.createdAt.millisecondsSinceEpoch)
        let delivered = deliveries.map { $0.deliveredAt?.millisecondsSinceEpoch ?? -1 }
        try await transactions.run("import deliveries", timeout: PostgresTransactions.longWork) { connection in
            try await connection.perform(
                "SELECT pg_advisory_xact_lock(\(PostgresSchema.commitOrderLock))",
                logger: logger
            )
            try await connection.perform(
                """
                INSERT INTO delivery (id, event_id, subscriber_id, job_key, state, attempts, next_attempt_at,
                                      last_status, last_error, created_at, delivered_at)
                SELECT d.id, d.event_id, d.subscriber_id, NULLIF(d.job_key, ''), d.state, d.attempts, d.next_attempt_at,
                       NULLIF(d.last_status, -1)::integer, CASE WHEN d.has_error THEN d.error END, d.created_at,
                       NULLIF(d.delivered_at, -1)
                FROM unnest(\(ids)::int8[], \(eventIDs)::text[], \(subscriberIDs)::text[], \(jobKeys)::text[],
                            \(states)::text[], \(attempts)::int8[], \(nextAttempts)::int8[], \(statuses)::int8[],
                            \(hasError)::bool[], \(errors)::text[], \(created)::int8[], \(delivered)::int8[])
                    AS d(id, event_id, subscriber_id, job_key, state, attempts, next_attempt_at, last_status,
                         has_error, error, created_at, delivered_at)
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
    }

    package func importAttempts(_ rows: [ExportedAttempt]) async throws {
        guard !rows.isEmpty else { return }
        let logger = self.logger
        let positions = rows.map(\.position)
        let deliveryIDs = rows.map(\.attempt.deliveryID)
        let ats = rows.map(\.attempt.at.millisecondsSinceEpoch)
        let statuses = rows.map { $0.attempt.statusCode.map(Int64.init) ?? -1 }
        let hasError = rows.map { $0.attempt.error != nil }
        let errors = rows.map { $0.attempt.error ?? "" }
        let durations = rows.map(\.attempt.durationMilliseconds)
        let results = rows.map(\.attempt.result.name)
        let hasRetry = rows.map { if case .retry = $0.attempt.result { true } else { false } }
        let retryAts = rows.map { row -> Int64 in
            if case .retry(let at) = row.attempt.result { return at.millisecondsSinceEpoch }
            return 0
        }
        try await transactions.run("import attempts", timeout: PostgresTransactions.longWork) { connection in
            try await connection.perform(
                """
                INSERT INTO delivery_attempt (serial, delivery_id, at, status_code, error, duration_ms, result, retry_at)
                SELECT a.serial, a.delivery_id, a.at, NULLIF(a.status_code, -1)::integer,
                       CASE WHEN a.has_error THEN a.error END, a.duration, a.result,
                       CASE WHEN a.has_retry THEN a.retry_at END
                FROM unnest(\(positions)::int8[], \(deliveryIDs)::int8[], \(ats)::int8[], \(statuses)::int8[],
                            \(hasError)::bool[], \(errors)::text[], \(durations)::int8[], \(results)::text[],
                            \(hasRetry)::bool[], \(retryAts)::int8[])
                    AS a(serial, delivery_id, at, status_code, has_error, error, duration, result, has_retry, retry_at)
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
    }

    package func importPositions() async throws -> [StoreTable: Int64] {
        try await read("import positions") { connection, logger in
            let row = try await connection.query(
                """
                SELECT (SELECT COALESCE(max(sequence), 0) FROM event), (SELECT COALESCE(max(sequence), 0) FROM quarantine),
                       (SELECT COALESCE(max(id), 0) FROM delivery), (SELECT COALESCE(max(serial), 0) FROM delivery_attempt)
                """,
                logger: logger
            ).collect().first
            guard let row else { return [:] }
            let (events, quarantine, deliveries, attempts) = try row.decode((Int64, Int64, Int64, Int64).self)
            return [.events: events, .quarantine: quarantine, .deliveries: deliveries, .attempts: attempts]
        }
    }

    /// Identity sequences continue after the copied rows; job rows are rebuilt from the copied events, a batch
    /// of jobs at a time.
    package func finishImport() async throws {
        let logger = self.logger
        try await transactions.run("finish import") { connection in
            try await connection.perform(
                """
                SELECT setval(pg_get_serial_sequence('quarantine', 'sequence'),
                              GREATEST((SELECT max(sequence) FROM quarantine), 1)),
                       setval(pg_get_serial_sequence('delivery_attempt', 'serial'),
                              GREATEST((SELECT max(serial) FROM delivery_attempt), 1))
                """,
                logger: logger
            )
        }
        var after = ""
        while true {
            let from = after
            let keys = try await read("job keys") { connection, logger in
                try await connection.query(
                    """
                    SELECT DISTINCT job_key COLLATE "C" AS key FROM event WHERE job_key COLLATE "C" > \(from)
                    ORDER BY key LIMIT 500
                    """,
                    logger: logger
                ).collect().map { try $0.decode(String.self) }
            }
            guard let last = keys.last else { break }
            try await transactions.run("rebuild jobs", timeout: PostgresTransactions.longWork) { connection in
                try await connection.perform(
                    "SELECT pg_advisory_xact_lock(\(PostgresSchema.commitOrderLock))",
                    logger: logger
                )
                try await Self.rebuildJobs(keys, on: connection, logger: logger)
            }
            after = last
        }
        // The copied installation starts with the statistics of what it holds, not of empty tables.
        await analyze(["event", "job", "quarantine", "subscriber", "delivery", "delivery_attempt"])
        try await transactions.run("finish import") { connection in
            try await connection.perform("UPDATE store_copy SET finished_at = now()", logger: logger)
        }
    }
}
