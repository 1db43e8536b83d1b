import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import Synchronization
import Testing

@testable import FieldgatePostgres

/// Says, in every test run, whether the PostgreSQL suites ran: skipped (with the reason) on a machine without the
/// server binaries, a failure when CI requires them and they are missing.
@Suite("PostgreSQL availability")
struct PostgresAvailabilityTests {
    @Test(.enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipComment))
    func thePostgreSQLSuitesRunOnThisMachine() async throws {
        let server = try await PostgresTestServer.shared()
        #expect(try await server.psql("SELECT 1").trimmingSpaces == "1")
    }
}

/// What only a shared store has to get right: several instances on one database at the same moment.
@Suite("PostgreSQL store", .enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipComment))
struct PostgresStoreTests {
    typealias Samples = StoreSamples

    /// Two stores (two gateway instances) on one new database.
    func withTwoInstances<T: Sendable>(
        _ body: @Sendable (PostgresEventStore, PostgresEventStore) async throws -> T
    ) async throws -> T {
        let database = try await PostgresTestServer.shared().makeDatabase()
        return try await withPostgresStore(database: database) { first in
            try await withPostgresStore(database: database) { second in try await body(first, second) }
        }
    }

    @Test func instancesStartingTogetherMigrateOnce() async throws {
        let server = try await PostgresTestServer.shared()
        let database = try await server.makeDatabase()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { try await withPostgresStore(database: database) { _ in } }
            }
            try await group.waitForAll()
        }
        let name = PostgresTestServer.databaseName(in: database)
        #expect(
            try await server.psql("SELECT count(*) FROM fieldgate_migration", database: name).trimmingSpaces
                == String(PostgresSchema.migrations.count)
        )
    }

    /// PL/pgSQL keeps each statement's generic plan for the life of a connection; one made while a table was
    /// nearly empty scanned it whole ever after (measured: ingest 1,450 instead of 7,700 requests/s). Every
    /// function of ours plans without sequential scans, including any a later migration adds, and without JIT
    /// (the price of a scan that had no alternative made PostgreSQL compile a 1 ms statement for 159 ms).
    @Test func everyHotPathFunctionPlansWithoutSequentialScansOrJIT() async throws {
        let server = try await PostgresTestServer.shared()
        let database = try await server.makeDatabase()
        try await withPostgresStore(database: database) { _ in }
        let name = PostgresTestServer.databaseName(in: database)
        let functions = try await server.psql(
            "SELECT count(*) FROM pg_proc WHERE proname LIKE 'fieldgate\\_%'",
            database: name
        ).trimmingSpaces
        #expect(functions == "6")
        let scanning = try await server.psql(
            """
            SELECT string_agg(proname, ',') FROM pg_proc
            WHERE proname LIKE 'fieldgate\\_%'
              AND NOT (COALESCE(proconfig, '{}') @> ARRAY['enable_seqscan=off', 'jit=off'])
            """,
            database: name
        ).trimmingSpaces
        #expect(scanning == "", "functions that may scan a whole table or compile a statement: \(scanning)")
    }

    /// A body past the TOAST threshold is compressed with LZ4 (Debian's PostgreSQL has it), not pglz.
    @Test func largeEventBodiesAreCompressedWithLZ4() async throws {
        let server = try await PostgresTestServer.shared()
        let database = try await server.makeDatabase()
        let name = PostgresTestServer.databaseName(in: database)
        try await withPostgresStore(database: database) { store in
            let body = String(repeating: "a compressible field-service status update; ", count: 200)
            _ = try await store.insertIfNew(Samples.candidate(content: body))
        }
        #expect(
            try await server.psql(
                "SELECT string_agg(DISTINCT pg_column_compression(raw_body), ',') FROM event",
                database: name
            ).trimmingSpaces == "lz4"
        )
    }

    /// A recovery queues deliveries faster than autovacuum visits a database (about once a minute): it refreshes
    /// the delivery table's statistics itself, so that the claims sending what it queued plan for what is there.
    @Test func aRecoveryRefreshesTheDeliveryTablesStatistics() async throws {
        let server = try await PostgresTestServer.shared()
        let database = try await server.makeDatabase()
        let name = PostgresTestServer.databaseName(in: database)
        let statistics = "SELECT count(*) FROM pg_stats WHERE tablename = 'delivery' AND attname = 'job_key'"
        try await withPostgresStore(database: database) { store in
            for index in 0..<20 {
                try await OutboxConformanceTests.accept(store, job: "S\(index % 4)", "event \(index)")
            }
            try await store.saveSubscriber(OutboxConformanceTests.subscriber("late"))
            #expect(try await server.psql(statistics, database: name).trimmingSpaces == "0")
            let queued = try await store.recover(
                subscriberID: "late",
                since: OutboxConformanceTests.at(0),
                now: OutboxConformanceTests.at(10)
            )
            #expect(queued == 20)
            #expect(try await server.psql(statistics, database: name).trimmingSpaces == "1")
        }
    }

    /// Another instance's migrations can take longer than the session's `lock_timeout` (5 s): an instance starting
    /// meanwhile keeps waiting for the migration lock and migrates only once it is free. The lock wait used to
    /// end at 5 s with its error unread, and the instance migrated without the lock.
    @Test func anInstanceWaitsForAnotherInstancesMigrationsHoweverLongTheyTake() async throws {
        let server = try await PostgresTestServer.shared()
        let database = try await server.makeDatabase()
        let name = PostgresTestServer.databaseName(in: database)
        let lock = PostgresSchema.migrationLock
        // The other instance: holds the migration lock for 6 s and says, last, when it let go.
        let released = Task {
            try await server.psql(
                "SELECT pg_advisory_lock(\(lock)); SELECT pg_sleep(6); SELECT extract(epoch FROM clock_timestamp())",
                database: name
            )
        }
        for _ in 0..<200 {
            let held = try await server.psql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
                    + "(SELECT oid FROM pg_database WHERE datname = current_database())",
                database: name
            )
            if held.trimmingSpaces != "0" { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        try await withPostgresStore(database: database) { _ in
            let migrated = try await server.psql(
                "SELECT extract(epoch FROM min(applied_at)), count(*) FROM fieldgate_migration",
                database: name
            ).trimmingSpaces.split(separator: "|")
            let releasedAt = try #require(Double(try await released.value.trimmingSpaces))
            let firstMigration = try #require(Double(migrated.first ?? ""))
            #expect(firstMigration > releasedAt, "migrated while another instance held the migration lock")
            #expect(migrated.last.map(String.init) == String(PostgresSchema.migrations.count))
        }
    }

    @Test func theSameDeliveryAtTwoInstancesAtOnceIsStoredOnce() async throws {
        try await withTwoInstances { first, second in
            for round in 0..<20 {
                let candidate = Samples.candidate(content: "race \(round)")
                async let a = first.insertIfNew(candidate)
                async let b = second.insertIfNew(candidate)
                let outcomes = try await [a, b]
                let inserted = outcomes.filter { if case .inserted = $0 { true } else { false } }
                #expect(inserted.count == 1, "round \(round): \(outcomes)")
                for outcome in outcomes {
                    #expect(outcome.eventID == candidate.key.eventID)
                }
            }
            #expect(try await first.events(EventQuery(limit: 100)).items.count == 20)
        }
    }

    @Test func anExpiredKeyRepeatedAtTwoInstancesAtOnceIsOneNewEvent() async throws {
        try await withTwoInstances { first, second in
            let original = Samples.candidate(content: "cycles back", window: .seconds(60))
            _ = try await first.insertIfNew(original)
            let later = UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + 120_000)
            let repeat_ = Samples.candidate(content: "cycles back", receivedAt: later, window: .seconds(60))
            async let a = first.insertIfNew(repeat_)
            async let b = second.insertIfNew(repeat_)
            let outcomes = try await [a, b]
            let ids = outcomes.map(\.eventID)
            #expect(outcomes.filter { if case .inserted = $0 { true } else { false } }.count == 1)
            #expect(Set(ids) == [original.key.eventID(occurrence: 2)])
        }
    }

    /// Sequence numbers follow commit order on every instance, so a reader that walks `events(after:)` while two
    /// instances write never steps over an event that becomes visible later.
    @Test func aReaderFollowingTwoWritingInstancesMissesNothing() async throws {
        try await withTwoInstances { first, second in
            let written = IDLog()
            let seen = try await withThrowingTaskGroup(of: Set<String>?.self) { group in
                for (instance, store) in [first, second].enumerated() {
                    group.addTask {
                        try await withThrowingTaskGroup(of: Void.self) { writers in
                            for writer in 0..<8 {
                                writers.addTask {
                                    for index in 0..<40 {
                                        let candidate = Samples.candidate(
                                            jobID: "job-\(index % 5)",
                                            content: "instance \(instance) writer \(writer) event \(index)"
                                        )
                                        _ = try await store.insertIfNew(candidate)
                                        written.add(candidate.key.eventID)
                                    }
                                }
                            }
                            try await writers.waitForAll()
                        }
                        return nil
                    }
                }
                group.addTask {
                    var after: Int64 = 0
                    var seen: Set<String> = []
                    var last: Int64 = 0
                    while seen.count < 640 {
                        let page = try await first.events(after: after, limit: 50)
                        for stored in page {
                            #expect(stored.sequence > last)
                            last = stored.sequence
                            seen.insert(stored.event.id)
                        }
                        after = page.last?.sequence ?? after
                        if page.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
                    }
                    return seen
                }
                var seen: Set<String> = []
                for try await result in group { if let result { seen = result } }
                return seen
            }
            #expect(seen == written.all)
            #expect(seen.count == 640)
        }
    }

    /// Instances decide a batch without the commit-order lock and take it only to write, checking what they
    /// decided on: two instances writing one job's events at once must still fold every event into its row.
    @Test func twoInstancesWritingOneJobAtOnceKeepItsRowWhole() async throws {
        try await withTwoInstances { first, second in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (instance, store) in [first, second].enumerated() {
                    for writer in 0..<6 {
                        group.addTask {
                            for index in 0..<10 {
                                let candidate = Samples.candidate(
                                    jobID: "shared",
                                    status: index % 2 == 0 ? .dispatched : .onSite,
                                    content: "instance \(instance) writer \(writer) event \(index)",
                                    receivedAt: UTCTimestamp(
                                        millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + Int64(index)
                                    )
                                )
                                _ = try await store.insertIfNew(candidate)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let events = try await second.events(jobKey: "techlink:summit-telecom:shared")
            #expect(events.count == 120)
            let expected = JobSummary(events: events.map { ($0.event, $0.sequence) })
            #expect(try await first.jobs(JobQuery()).jobs == [expected].compactMap { $0 })
        }
    }

    @Test func aCommitOnOneInstanceWakesTheOther() async throws {
        try await withTwoInstances { first, second in
            // Once the other instance listens, nothing but a commit publishes there.
            for _ in 0..<500 where !second.isListening { try await Task.sleep(for: .milliseconds(10)) }
            #expect(second.isListening)
            let events = second.changes.listen(to: .events)
            let deliveries = second.changes.listen(to: .deliveries)
            defer {
                events.stop()
                deliveries.stop()
            }
            _ = try await first.insertIfNew(Samples.candidate(content: "wake the other one"))
            #expect(await isWoken(events), "an event committed by one instance did not wake the other")
            try await first.saveSubscriber(Subscriber(id: "seen-everywhere", url: "http://127.0.0.1:9/"))
            #expect(await isWoken(deliveries), "a subscriber saved by one instance did not wake the other")
            // The other instance's cached subscribers were dropped: its next event is queued for the new one.
            guard case .inserted(let event) = try await second.insertIfNew(Samples.candidate(content: "after")) else {
                Issue.record("not inserted")
                return
            }
            #expect(
                try await second.deliveries(DeliveryQuery(eventID: event.id)).items.map(\.subscriberID) == [
                    "seen-everywhere"
                ]
            )
        }
    }

    /// `SKIP LOCKED` hands different rows to instances claiming at once, and the per-job rule holds across them:
    /// while one instance holds a job's head, the other cannot take the job's next event.
    @Test func instancesClaimingAtOnceShareWorkAndKeepEachJobInOrder() async throws {
        try await withTwoInstances { first, second in
            try await first.saveSubscriber(Subscriber(id: "board", url: "http://127.0.0.1:9/", maxConcurrency: 1_000))
            var expected: [String: [String]] = [:]
            for index in 0..<60 {
                let job = "job-\(index % 6)"
                let candidate = Samples.candidate(jobID: job, content: "claim \(index)")
                _ = try await first.insertIfNew(candidate)
                expected["techlink:summit-telecom:\(job)", default: []].append(candidate.key.eventID)
            }
            var delivered: [String: [String]] = [:]
            var clock = Samples.start
            while delivered.values.map(\.count).reduce(0, +) < 60 {
                let now = clock
                async let a = first.claimDueDeliveries(
                    now: now,
                    leaseMargin: .seconds(5),
                    limit: 10,
                    inFlight: [:],
                    paused: []
                )
                async let b = second.claimDueDeliveries(
                    now: now,
                    leaseMargin: .seconds(5),
                    limit: 10,
                    inFlight: [:],
                    paused: []
                )
                let (fromFirst, fromSecond) = try await (a, b)
                let ids = (fromFirst + fromSecond).map(\.delivery.id)
                #expect(Set(ids).count == ids.count, "one delivery claimed by both instances")
                let jobs = (fromFirst + fromSecond).compactMap(\.delivery.jobKey)
                #expect(Set(jobs).count == jobs.count, "two deliveries of one job out at once")
                for due in fromFirst + fromSecond {
                    delivered[due.delivery.jobKey!, default: []].append(due.delivery.eventID)
                    let store = due.delivery.id % 2 == 0 ? first : second
                    try await store.record(
                        DeliveryAttempt(
                            deliveryID: due.delivery.id,
                            at: now,
                            statusCode: 200,
                            error: nil,
                            durationMilliseconds: 1,
                            result: .delivered
                        )
                    )
                }
                clock = UTCTimestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch + 1)
            }
            #expect(delivered == expected)
        }
    }

    /// An instance that dies after claiming leaves its lease to run out; then another instance claims the same
    /// delivery — the same event, so the same webhook-id.
    @Test func aDeadInstancesLeaseRunsOutAndAnotherInstanceTakesOver() async throws {
        try await withTwoInstances { first, second in
            try await first.saveSubscriber(Subscriber(id: "board", url: "http://127.0.0.1:9/", timeout: .seconds(2)))
            let candidate = Samples.candidate(content: "leased")
            _ = try await first.insertIfNew(candidate)
            let claimed = try await first.claimDueDeliveries(
                now: Samples.start,
                leaseMargin: .seconds(1),
                limit: 10,
                inFlight: [:],
                paused: []
            )
            #expect(claimed.map(\.delivery.eventID) == [candidate.key.eventID])
            // Within the lease (2 s timeout + 1 s margin) nobody else takes it.
            let during = UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + 2_999)
            #expect(
                try await second.claimDueDeliveries(
                    now: during,
                    leaseMargin: .seconds(1),
                    limit: 10,
                    inFlight: [:],
                    paused: []
                ).isEmpty
            )
            let after = UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + 3_000)
            #expect(try await second.nextDueTime(after: Samples.start) == after)
            let retaken = try await second.claimDueDeliveries(
                now: after,
                leaseMargin: .seconds(1),
                limit: 10,
                inFlight: [:],
                paused: []
            )
            #expect(retaken.map(\.delivery.id) == claimed.map(\.delivery.id))
            #expect(retaken.first?.body == claimed.first?.body)
        }
    }

    /// Another instance's claim that found a delivery free (its snapshot predates this instance's claim of it),
    /// locked it, and inserts its claim row a moment later — while this instance records the delivery's attempt.
    /// The record used to delete the claim row and then wait for the delivery, while the claim waited for the
    /// deleted claim row: a deadlock, one side aborted (seen in the fan-out measurement). Now the record waits for
    /// the delivery first, the claim finds a live lease and takes nothing, and both commit.
    @Test func aRecordAndAClaimOfTheSameDeliveryAtOnceDoNotDeadlock() async throws {
        let server = try await PostgresTestServer.shared()
        let database = try await server.makeDatabase()
        let name = PostgresTestServer.databaseName(in: database)
        try await withPostgresStore(database: database) { store in
            try await store.saveSubscriber(Subscriber(id: "board", url: "http://127.0.0.1:9/", timeout: .seconds(2)))
            _ = try await store.insertIfNew(Samples.candidate(content: "recorded while claimed"))
            let claimed = try await store.claimDueDeliveries(
                now: Samples.start,
                leaseMargin: .seconds(1),
                limit: 10,
                inFlight: [:],
                paused: []
            )
            let id = try #require(claimed.first?.delivery.id)
            // The other instance's claim, slowed down: the delivery locked, its claim row 1.5 s later.
            let other = Task {
                try await server.psql(
                    """
                    BEGIN;
                    SELECT id FROM delivery WHERE id = \(id) FOR UPDATE;
                    SELECT pg_sleep(1.5);
                    INSERT INTO delivery_claim (delivery_id, subscriber_id, lease_until) VALUES (\(id), 'board', 0)
                    ON CONFLICT (delivery_id) DO UPDATE SET lease_until = excluded.lease_until
                        WHERE delivery_claim.lease_until <= 0;
                    COMMIT;
                    """,
                    database: name
                )
            }
            var sleeping = false
            for _ in 0..<200 where !sleeping {
                sleeping =
                    try await server.psql(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'",
                        database: name
                    ).trimmingSpaces == "1"
                if !sleeping { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(sleeping, "the other claim never held the delivery")
            let recorded = try await store.record(
                DeliveryAttempt(
                    deliveryID: id,
                    at: Samples.start,
                    statusCode: 204,
                    error: nil,
                    durationMilliseconds: 3,
                    result: .delivered
                ),
                disableAfter: nil
            )
            #expect(recorded.disabledReason == nil)
            let output = try await other.value
            #expect(!output.contains("deadlock"), "\(output)")
            let delivery = try #require(try await store.delivery(id: id))
            #expect(delivery.state == .delivered)
            #expect(delivery.attempts == 1)
            #expect(
                try await server.psql("SELECT count(*) FROM delivery_claim", database: name).trimmingSpaces == "0",
                "the other claim took a delivery whose lease was live"
            )
        }
    }

    @Test func aFullCommitQueueRefusesAtOnceInsteadOfQueueing() async throws {
        var options = PostgresEventStore.Options()
        options.maximumQueued = 4
        options.maximumBatch = 1
        try await withPostgresStore(options: options) { store async throws in
            let outcomes = await withTaskGroup(of: Result<InsertOutcome, any Error>.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        do {
                            return .success(try await store.insertIfNew(Samples.candidate(content: "burst \(index)")))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let refused = outcomes.filter {
                if case .failure(let error) = $0 { error is StoreOverloaded } else { false }
            }
            let stored = outcomes.compactMap { if case .success(.inserted(let event)) = $0 { event.id } else { nil } }
            #expect(!refused.isEmpty, "200 writers at once cannot all fit in a queue of 4")
            #expect(refused.count + stored.count == 200)
            // Whatever was answered as stored is stored.
            for id in stored { #expect(try await store.event(id: id) != nil) }
        }
    }
}

/// PostgreSQL going away and coming back, on a server of the test's own.
@Suite("PostgreSQL faults", .serialized, .enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipComment))
struct PostgresFaultTests {
    @Test(arguments: [false, true])
    func whileTheDatabaseIsDownWritesFailFastAndTheStoreReconnectsByItself(immediately: Bool) async throws {
        try await PostgresTestServer.withPrivateServer { server in
            try await withPostgresStore(database: server.url(database: "postgres")) { store in
                let before = StoreSamples.candidate(content: "before the restart")
                #expect(try await store.insertIfNew(before) == .inserted(before.event))
                try await server.stop(immediately: immediately)

                await #expect(throws: (any Error).self) {
                    try await store.insertIfNew(StoreSamples.candidate(content: "while down"))
                }
                await #expect(throws: (any Error).self) { try await store.checkWritable() }
                #expect(!store.isListening)

                try await server.restart()
                #expect(try await isWritableAgain(store), "the store did not reconnect")
                #expect(try await store.insertIfNew(before) == .duplicate(id: before.event.id))
                let after = StoreSamples.candidate(content: "after the restart")
                #expect(try await store.insertIfNew(after) == .inserted(after.event))
                // LISTEN is back by itself: a commit of another instance wakes this one again.
                for _ in 0..<200 where !store.isListening { try await Task.sleep(for: .milliseconds(50)) }
                #expect(store.isListening, "LISTEN did not reconnect")
                let events = store.changes.listen(to: .events)
                defer { events.stop() }
                try await withPostgresStore(database: server.url(database: "postgres")) { other in
                    _ = try await other.insertIfNew(StoreSamples.candidate(content: "from another instance"))
                }
                #expect(await isWoken(events), "a commit of another instance after the restart woke nothing")
            }
        }
    }
}

extension PostgresFaultTests {
    /// The committer waits for work holding its connection. A restart while nothing is written leaves it holding a
    /// dead one; the first write after the restart must go to a new connection, not fail on the old.
    @Test func aWriteAfterARestartNobodyWroteThroughIsAccepted() async throws {
        try await PostgresTestServer.withPrivateServer { server in
            try await withPostgresStore(database: server.url(database: "postgres")) { store in
                let before = StoreSamples.candidate(content: "before a quiet restart")
                #expect(try await store.insertIfNew(before) == .inserted(before.event))
                try await server.stop(immediately: true)
                try await server.restart()
                #expect(try await isWritableAgain(store), "the store did not reconnect")
                let after = StoreSamples.candidate(content: "the first write after a quiet restart")
                #expect(try await store.insertIfNew(after) == .inserted(after.event))
                #expect(try await store.insertIfNew(before) == .duplicate(id: before.event.id))
            }
        }
    }
}

/// True once `store` accepts writes again, within 10 s of polling.
func isWritableAgain(_ store: PostgresEventStore) async throws -> Bool {
    for _ in 0..<200 {
        if (try? await store.checkWritable()) != nil { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return false
}

/// True when `listener` is woken within `limit`: far above a NOTIFY's round trip, so that a missing wake-up fails
/// the test instead of hanging it.
func isWoken(_ listener: StoreChanges.Listener, within limit: Duration = .seconds(10)) async -> Bool {
    await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            await listener.wait()
            return !Task.isCancelled
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return false
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

/// IDs written by several tasks.
final class IDLog: Sendable {
    private let state = Mutex<Set<String>>([])
    func add(_ id: String) { _ = state.withLock { $0.insert(id) } }
    var all: Set<String> { state.withLock { $0 } }
}
