import FieldgateCore
import FieldgateModel
import FieldgatePostgres
import FieldgateSQLite
import FieldgateTestSupport
import Synchronization
import Testing

/// `fieldgate store copy`: an installation on SQLite moved into PostgreSQL keeps behaving as the same gateway.
@Suite("Store copy", .enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipComment))
struct StoreCopyTests {
    typealias Samples = StoreSamples

    static func at(_ seconds: Int64) -> UTCTimestamp {
        UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + seconds * 1000)
    }

    /// A SQLite store with something in every table: rotated and failing subscribers, a key accepted twice (its
    /// first acceptance expired), quarantined requests (one replayed), deliveries pending, delivered and dead.
    static func populatedStore(_ path: String) async throws -> (SQLiteEventStore, [String]) {
        let store = try SQLiteEventStore(path: path)
        try await store.saveSubscriber(
            Subscriber(
                id: "billing",
                url: "http://127.0.0.1:9/billing",
                secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                previousSecret: "whsec_bm90IHRoZSBzZWNyZXQ=",
                previousSecretExpiresAt: at(86_400),
                filter: SubscriberFilter(types: ["job.*"]),
                retrySchedule: [.seconds(5)],
                timeout: .seconds(3)
            )
        )
        try await store.saveSubscriber(
            Subscriber(
                id: "board",
                url: "http://127.0.0.1:9/board",
                failingSince: at(-60),
                maxConcurrency: 2
            )
        )
        var ids: [String] = []
        for index in 0..<23 {
            let candidate = Samples.candidate(
                type: index % 4 == 0 ? .jobCreated : .jobStatusChanged,
                jobID: index % 5 == 0 ? nil : "job-\(index % 3)",
                content: "copied \(index)",
                receivedAt: at(Int64(index))
            )
            guard case .inserted(let event) = try await store.insertIfNew(candidate) else {
                throw TestSupportError("event \(index) not inserted")
            }
            ids.append(event.id)
        }
        // A key whose window ran out and that came back: two acceptances, the first kept for the chain.
        _ = try await store.insertIfNew(Samples.candidate(content: "cycles", receivedAt: at(30), window: .seconds(10)))
        _ = try await store.insertIfNew(
            Samples.candidate(content: "cycles", receivedAt: at(60), window: .seconds(3600))
        )
        for index in 0..<4 {
            try await store.quarantine(Samples.quarantined(id: "q_\(index)", receivedAt: at(Int64(index))))
        }
        _ = try await store.insertReplay(
            Samples.candidate(content: "replayed", receivedAt: at(70)),
            quarantineID: "q_1",
            at: at(70)
        )
        let due = try await store.claimDueDeliveries(
            now: at(100),
            leaseMargin: .seconds(5),
            limit: 4,
            inFlight: [:],
            paused: []
        )
        for (index, claimed) in due.enumerated() {
            let result: DeliveryAttempt.Result = [.delivered, .retry(at: at(200)), .dead, .delivered][index % 4]
            _ = try await store.record(
                DeliveryAttempt(
                    deliveryID: claimed.delivery.id,
                    at: at(101),
                    statusCode: result == .delivered ? 200 : 500,
                    error: result == .delivered ? nil : "HTTP 500",
                    durationMilliseconds: 7,
                    result: result
                ),
                disableAfter: nil
            )
        }
        return (store, ids)
    }

    @Test func aSQLiteStoreCopiedIntoPostgreSQLMatchesItAndBehavesAsTheSameGateway() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (source, ids) = try await Self.populatedStore(directory.path("source.db"))
        let reports = Mutex<[StoreCopy.Progress]>([])
        let server = try await PostgresTestServer.shared()
        let database = try await server.makeDatabase()
        let name = PostgresTestServer.databaseName(in: database)
        try await withPostgresStore(database: database) { target in
            let copy = StoreCopy(from: source, named: "sqlite:source.db", to: target, batchSize: 7) { progress in
                reports.withLock { $0.append(progress) }
            }
            try await copy.run()
            // The copy ends with the planner's statistics of what it wrote, not those of empty tables.
            #expect(
                try await server.psql(
                    "SELECT string_agg(DISTINCT tablename, ',' ORDER BY tablename) FROM pg_stats "
                        + "WHERE tablename IN ('event', 'delivery', 'job')",
                    database: name
                ).trimmingSpaces == "delivery,event,job"
            )
            let checks = try await copy.verify()
            #expect(checks.map(\.table) == StoreTable.allCases)
            for check in checks {
                #expect(check.matches, "\(check.table): \(check)")
                #expect(check.sourceRows > 0, "\(check.table) is empty in the sample")
            }
            // Progress went up to every table's total.
            let last = Dictionary(reports.withLock { $0 }.map { ($0.table, $0) }, uniquingKeysWith: { _, new in new })
            for check in checks { #expect(last[check.table]?.copied == check.sourceRows) }

            // Job rows are rebuilt from the copied events: the same listing.
            #expect(try await target.jobs(JobQuery()).jobs == (try await source.jobs(JobQuery())).jobs)
            // The same gateway: a retry is a duplicate of the copied event, a new event comes after every copied
            // one, the jobs listing and the pending deliveries carried over.
            let retry = Samples.candidate(
                type: .jobStatusChanged,
                jobID: "job-1",
                content: "copied 1",
                receivedAt: Self.at(120)
            )
            #expect(try await target.insertIfNew(retry).eventID == ids[1])
            let cycled = Samples.candidate(content: "cycles", receivedAt: Self.at(120), window: .seconds(3600))
            guard case .duplicate(let original) = try await target.insertIfNew(cycled) else {
                Issue.record("the second acceptance of a key must still answer duplicates after the copy")
                return
            }
            #expect(original == cycled.key.eventID(occurrence: 2))
            let fresh = Samples.candidate(content: "after the copy", receivedAt: Self.at(130))
            _ = try await target.insertIfNew(fresh)
            let newest = try await target.events(EventQuery(limit: 2)).items
            #expect(newest.first?.event.id == fresh.key.eventID)
            #expect((newest.first?.sequence ?? 0) > (newest.last?.sequence ?? .max))
            #expect(try await target.quarantinedRequest(id: "q_1")?.replayedAs != nil)
            #expect(
                try await target.insertReplay(
                    Samples.candidate(content: "again"),
                    quarantineID: "q_1",
                    at: Self.at(140)
                )
                    != .notFound
            )
            let pending = try await target.claimDueDeliveries(
                now: Self.at(300),
                leaseMargin: .seconds(5),
                limit: 100,
                inFlight: [:],
                paused: []
            )
            #expect(!pending.isEmpty)
        }
    }

    @Test func anInterruptedCopyResumesWhereItStoppedAndAForeignDatabaseIsRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (source, _) = try await Self.populatedStore(directory.path("source.db"))
        let database = try await PostgresTestServer.shared().makeDatabase()
        // Cut short once a few events are in.
        await #expect(throws: CancellationError.self) {
            try await withPostgresStore(database: database) { target in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let copy = StoreCopy(from: source, named: "sqlite:source.db", to: target, batchSize: 3) {
                            progress in
                            if progress.table == .events, progress.copied >= 6 {
                                withUnsafeCurrentTask { $0?.cancel() }
                            }
                        }
                        try await copy.run()
                    }
                    try await group.waitForAll()
                }
            }
        }
        try await withPostgresStore(database: database) { target in
            let partial = try await target.exportCounts()
            let total = try await source.exportCounts()
            #expect((partial[.events] ?? 0) < (total[.events] ?? 0), "the first run was not cut short")
            let copy = StoreCopy(from: source, named: "sqlite:source.db", to: target, batchSize: 3)
            try await copy.run()
            for check in try await copy.verify() { #expect(check.matches, "\(check.table): \(check)") }
            // Another source into the same database is refused; so is a copy into a database in use.
            let other = StoreCopy(from: source, named: "sqlite:elsewhere.db", to: target)
            await #expect(throws: (any Error).self) { try await other.run() }
        }
        try await withPostgresStore { used in
            _ = try await used.insertIfNew(Samples.candidate(content: "already here"))
            await #expect(throws: (any Error).self) {
                try await StoreCopy(from: source, named: "sqlite:source.db", to: used).run()
            }
        }
    }

    @Test func verificationFindsARowThatDiffers() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (source, _) = try await Self.populatedStore(directory.path("source.db"))
        let server = try await PostgresTestServer.shared()
        let database = try await server.makeDatabase()
        try await withPostgresStore(database: database) { target in
            let copy = StoreCopy(from: source, named: "sqlite:source.db", to: target)
            try await copy.run()
            let name = PostgresTestServer.databaseName(in: database)
            try await server.psql("UPDATE delivery SET attempts = attempts + 1 WHERE id = 1", database: name)
            let checks = try await copy.verify()
            #expect(checks.filter { !$0.matches }.map(\.table) == [.deliveries])
        }
    }
}
