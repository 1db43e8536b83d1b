import FieldgateCore
import FieldgateModel
import GRDB

/// Tables, indexes and their migrations; a release only ever appends migrations.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: events, dedupe keys, quarantine") { database in
            try database.execute(
                sql: """
                    CREATE TABLE event (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        vendor TEXT NOT NULL,
                        tenant TEXT NOT NULL,
                        type TEXT NOT NULL,
                        jobKey TEXT,
                        status TEXT,
                        time INTEGER NOT NULL,
                        receivedAt INTEGER NOT NULL,
                        json BLOB NOT NULL,
                        rawMethod TEXT NOT NULL,
                        rawPath TEXT NOT NULL,
                        rawHeaders TEXT NOT NULL,
                        rawBody BLOB NOT NULL
                    );
                    CREATE INDEX event_job ON event (jobKey, sequence) WHERE jobKey IS NOT NULL;
                    CREATE INDEX event_tenant ON event (vendor, tenant, sequence);
                    CREATE INDEX event_type ON event (type, sequence);
                    CREATE INDEX event_received ON event (receivedAt);

                    CREATE TABLE dedupe_key (
                        digest TEXT PRIMARY KEY NOT NULL,
                        eventID TEXT NOT NULL,
                        expiresAt INTEGER NOT NULL,
                        occurrences INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX dedupe_key_expiry ON dedupe_key (expiresAt);

                    CREATE TABLE quarantine (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        vendor TEXT NOT NULL,
                        tenant TEXT NOT NULL,
                        routeSuffix TEXT NOT NULL,
                        rawMethod TEXT NOT NULL,
                        rawPath TEXT NOT NULL,
                        rawHeaders TEXT NOT NULL,
                        rawBody BLOB NOT NULL,
                        problemCode TEXT NOT NULL,
                        problemStatus INTEGER NOT NULL,
                        problemTitle TEXT NOT NULL,
                        problemDetail TEXT NOT NULL,
                        receivedAt INTEGER NOT NULL,
                        replayedAs TEXT,
                        replayedAt INTEGER
                    );
                    CREATE INDEX quarantine_tenant ON quarantine (vendor, tenant, sequence);

                    CREATE TABLE readiness_probe (id INTEGER PRIMARY KEY, checkedAt INTEGER NOT NULL);
                    """
            )
        }
        migrator.registerMigration("v2: subscribers and the delivery outbox") { database in
            try database.execute(
                sql: """
                    CREATE TABLE subscriber (
                        id TEXT PRIMARY KEY NOT NULL,
                        url TEXT NOT NULL,
                        secret TEXT,
                        types TEXT NOT NULL,
                        vendors TEXT NOT NULL,
                        tenants TEXT NOT NULL,
                        statuses TEXT NOT NULL,
                        enabled INTEGER NOT NULL,
                        disabledReason TEXT,
                        retrySchedule TEXT NOT NULL,
                        timeoutMilliseconds INTEGER NOT NULL,
                        maxConcurrency INTEGER NOT NULL,
                        origin TEXT NOT NULL
                    );

                    CREATE TABLE delivery (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        eventID TEXT NOT NULL,
                        subscriberID TEXT NOT NULL,
                        jobKey TEXT,
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL,
                        nextAttemptAt INTEGER NOT NULL,
                        leaseUntil INTEGER,
                        lastStatus INTEGER,
                        lastError TEXT,
                        createdAt INTEGER NOT NULL,
                        deliveredAt INTEGER
                    );
                    CREATE INDEX delivery_pending ON delivery (id) WHERE state = 'pending';
                    CREATE INDEX delivery_job ON delivery (subscriberID, jobKey, state, id);
                    CREATE INDEX delivery_subscriber ON delivery (subscriberID, state, id);
                    CREATE INDEX delivery_event ON delivery (eventID);

                    CREATE TABLE delivery_attempt (
                        deliveryID INTEGER NOT NULL,
                        at INTEGER NOT NULL,
                        statusCode INTEGER,
                        error TEXT,
                        durationMilliseconds INTEGER NOT NULL,
                        result TEXT NOT NULL,
                        retryAt INTEGER
                    );
                    CREATE INDEX delivery_attempt_delivery ON delivery_attempt (deliveryID, at);
                    """
            )
        }
        migrator.registerMigration("v3: dedupe keys in the event row") { database in
            // The latest event of each key carries its expiry; the event ID index answers dedupe (see
            // SQLiteEventStore.insertIfNew), so the digest-keyed table and its random page per insert go.
            try database.execute(
                sql: """
                    ALTER TABLE event ADD COLUMN keyExpiresAt INTEGER;
                    UPDATE event SET keyExpiresAt = (SELECT expiresAt FROM dedupe_key WHERE dedupe_key.eventID = event.id);
                    CREATE INDEX event_key_expiry ON event (keyExpiresAt) WHERE keyExpiresAt IS NOT NULL;
                    DROP TABLE dedupe_key;
                    """
            )
        }
        migrator.registerMigration("v4: fair claims, retention, secret rotation, subscriber health") { database in
            try database.execute(
                sql: """
                    -- Earlier acceptances of a key stay while a later one counts (SQLiteEventStore.deleteEvents).
                    -- Rows from before this column are kept as long as the longest key alive now.
                    ALTER TABLE event ADD COLUMN chainExpiresAt INTEGER;
                    UPDATE event SET chainExpiresAt = (SELECT MAX(keyExpiresAt) FROM event) WHERE keyExpiresAt IS NULL;

                    ALTER TABLE subscriber ADD COLUMN previousSecret TEXT;
                    ALTER TABLE subscriber ADD COLUMN previousSecretExpiresAt INTEGER;
                    ALTER TABLE subscriber ADD COLUMN failingSince INTEGER;

                    -- Claims go subscriber by subscriber: its due deliveries by due time, its live leases.
                    DROP INDEX delivery_pending;
                    CREATE INDEX delivery_due ON delivery (subscriberID, nextAttemptAt) WHERE state = 'pending';
                    CREATE INDEX delivery_lease ON delivery (subscriberID, leaseUntil) WHERE state = 'pending';
                    -- Retention deletes the oldest first.
                    CREATE INDEX delivery_delivered ON delivery (deliveredAt) WHERE state = 'delivered';
                    CREATE INDEX quarantine_received ON quarantine (receivedAt);
                    """
            )
        }
        migrator.registerMigration("v5: one row per job for the jobs listing") { database in
            try database.execute(
                sql: """
                    -- Kept in each event's transaction (SQLiteJobs.record); GET /v1/jobs reads only this table.
                    CREATE TABLE job (
                        key TEXT PRIMARY KEY NOT NULL,
                        vendor TEXT NOT NULL,
                        tenant TEXT NOT NULL,
                        jobId TEXT NOT NULL,
                        status TEXT,
                        vendorStatusCode TEXT,
                        vendorStatusName TEXT,
                        statusAt INTEGER,
                        statusSequence INTEGER,
                        lastEventAt INTEGER NOT NULL,
                        lastEventID TEXT NOT NULL,
                        lastSequence INTEGER NOT NULL,
                        eventCount INTEGER NOT NULL,
                        updatedAt INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX job_updated ON job (updatedAt, key);
                    CREATE INDEX job_tenant ON job (vendor, tenant, updatedAt, key);
                    CREATE INDEX job_status ON job (status, updatedAt, key);
                    """
            )
            try SQLiteJobs.rebuildAll(in: database)
        }
        migrator.registerMigration("v6: ingest counts per minute, attempts by time") { database in
            try database.execute(
                sql: """
                    -- IngestCountFlush adds each instance's increments every few seconds (SQLiteIngestCounts).
                    CREATE TABLE ingest_count (
                        minute INTEGER NOT NULL,
                        vendor TEXT NOT NULL,
                        tenant TEXT NOT NULL,
                        outcome TEXT NOT NULL,
                        count INTEGER NOT NULL,
                        PRIMARY KEY (minute, vendor, tenant, outcome)
                    ) WITHOUT ROWID;
                    -- Delivery health over the last day reads the day's attempts, not all of them.
                    CREATE INDEX delivery_attempt_at ON delivery_attempt (at);
                    """
            )
        }
        return migrator
    }

    /// `(?, ?, …)` for an `IN` list of `count` values.
    static func placeholders(_ count: Int) -> String {
        "(" + Array(repeating: "?", count: count).joined(separator: ", ") + ")"
    }

    /// A list of strings as a JSON array.
    static func encode(_ strings: [String]) -> String { StoredJSON.encode(strings) }

    static func decodeStrings(_ text: String) throws -> [String] { try StoredJSON.decodeStrings(text) }

    /// Headers as a JSON array of `[name, value]` pairs: order and repeated fields survive.
    static func encode(_ headers: RequestHeaders) -> String { StoredJSON.encode(headers) }

    static func decodeHeaders(_ text: String) throws -> RequestHeaders { try StoredJSON.decodeHeaders(text) }
}
