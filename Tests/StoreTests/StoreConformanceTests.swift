import FieldgateCore
import FieldgateModel
import FieldgatePostgres
import FieldgateTestSupport
import GRDB
import Logging
import Synchronization
import Testing

import struct Foundation.Data

@testable import FieldgateSQLite

/// Every ``EventStore`` must pass these: the pipeline and the admin API rely on nothing else.
///
/// PostgreSQL runs on a private server the test process starts (``PostgresTestServer``); without the server
/// binaries its cases are left out and ``PostgresAvailabilityTests`` reports the PostgreSQL suites as skipped.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// The kinds this machine can run: PostgreSQL only with its server binaries (or when CI requires it).
    static var available: [StoreKind] { PostgresTestServer.shouldRun ? allCases : [.memory, .sqlite] }

    /// Runs `body` with a fresh, empty store, disposed of afterwards.
    func withStore<T: Sendable>(_ body: @Sendable (any EventStore) async throws -> T) async throws -> T {
        switch self {
        case .memory:
            return try await body(InMemoryEventStore())
        case .sqlite:
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            return try await body(try SQLiteEventStore(path: directory.path("events.db")))
        case .postgres:
            return try await withPostgresStore { try await body($0) }
        }
    }
}

/// A store on a new database of the shared test server (or on `database`), running for the duration of `body`.
func withPostgresStore<T: Sendable>(
    database: String? = nil,
    options: PostgresEventStore.Options = PostgresEventStore.Options(),
    _ body: @Sendable (PostgresEventStore) async throws -> T
) async throws -> T {
    let text: String
    if let database {
        text = database
    } else {
        text = try await PostgresTestServer.shared().makeDatabase()
    }
    var logger = Logger(label: "postgres-store-test")
    logger.logLevel = .error
    let store = try PostgresEventStore(url: try PostgresURL(parsing: text), logger: logger, options: options)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await store.run()
            return nil
        }
        defer { group.cancelAll() }
        do {
            try await store.prepare()
        } catch {
            // PSQLError describes itself generically; the test log needs the server's reason.
            Issue.record("the PostgreSQL store did not start: \(String(reflecting: error))")
            throw error
        }
        return try await body(store)
    }
}

@Suite("Store conformance")
struct StoreConformanceTests {
    typealias Samples = StoreSamples

    @Test(arguments: StoreKind.available)
    func aKeyWithinItsWindowIsADuplicateOfTheFirstCopy(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            let first = Samples.candidate(content: "a")
            guard case .inserted(let stored) = try await store.insertIfNew(first) else {
                Issue.record("first copy not inserted")
                return
            }
            #expect(stored.id == first.key.eventID)
            let later = Samples.candidate(
                content: "a",
                receivedAt: UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + 60_000)
            )
            #expect(try await store.insertIfNew(later) == .duplicate(id: stored.id))
            #expect(try await store.events(EventQuery()).items.count == 1)
        }
    }

    @Test(arguments: StoreKind.available)
    func aKeyAfterItsWindowIsANewEventWithANewID(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            let first = Samples.candidate(content: "a", window: .seconds(60))
            _ = try await store.insertIfNew(first)
            let repeat_ = Samples.candidate(
                content: "a",
                receivedAt: UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + 60_000)
            )
            guard case .inserted(let second) = try await store.insertIfNew(repeat_) else {
                Issue.record("a repeat after the window must be a new event")
                return
            }
            #expect(second.id == first.key.eventID(occurrence: 2))
            // Purging the key forgets the count, but the third acceptance still gets an unused ID.
            #expect(try await store.purgeExpiredKeys(before: UTCTimestamp(millisecondsSinceEpoch: .max)) == 1)
            guard case .inserted(let third) = try await store.insertIfNew(repeat_) else {
                Issue.record("a purged key must be new")
                return
            }
            #expect(Set([first.key.eventID, second.id, third.id]).count == 3)
        }
    }

    @Test(arguments: StoreKind.available)
    func concurrentCopiesOfOneKeyInsertExactlyOnce(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            let outcomes = try await withThrowingTaskGroup(of: InsertOutcome.self) { group in
                for _ in 0..<64 {
                    group.addTask { try await store.insertIfNew(Samples.candidate(content: "same")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let inserted = outcomes.filter { if case .inserted = $0 { true } else { false } }
            #expect(inserted.count == 1)
            let ids = Set(
                outcomes.map { outcome -> String in
                    switch outcome {
                    case .inserted(let event): event.id
                    case .duplicate(let id): id
                    }
                }
            )
            #expect(ids == [Samples.candidate(content: "same").key.eventID])
        }
    }

    @Test(arguments: StoreKind.available)
    func concurrentDistinctEventsAreAllStoredAndReadable(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        guard
                            case .inserted(let event) = try await store.insertIfNew(
                                Samples.candidate(jobID: "job-\(index % 7)", content: "event \(index)")
                            )
                        else { throw TestSupportError("event \(index) not inserted") }
                        return event.id
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(Set(ids).count == 300)
            for id in ids {
                #expect(try await store.event(id: id)?.event.id == id)
            }
        }
    }

    @Test(arguments: StoreKind.available)
    func theEventAndItsRawRequestReadBackExactly(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            let candidate = Samples.candidate(content: "exact", body: [0x7B, 0xFF, 0x00, 0x7D])
            _ = try await store.insertIfNew(candidate)
            let stored = try #require(try await store.event(id: candidate.key.eventID))
            #expect(stored.event == candidate.event)
            #expect(stored.event.jsonBytes == candidate.event.jsonBytes)
            #expect(stored.raw == candidate.raw)
            #expect(try await store.event(id: "0123456789abcdef0123456789abcdef") == nil)
        }
    }

    @Test(arguments: StoreKind.available)
    func listingsAreNewestFirstFilteredAndPaged(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            var expected: [String] = []
            for index in 0..<10 {
                let candidate = Samples.candidate(
                    vendor: index % 2 == 0 ? "techlink" : "tracktik",
                    type: index % 3 == 0 ? .jobCreated : .jobStatusChanged,
                    jobID: "job-\(index % 4)",
                    status: index % 5 == 0 ? .completed : .dispatched,
                    content: "listing \(index)",
                    receivedAt: UTCTimestamp(
                        millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + Int64(index) * 1000
                    )
                )
                _ = try await store.insertIfNew(candidate)
                expected.append(candidate.key.eventID)
            }
            // Paging with a small limit visits every event once, newest first.
            var seen: [String] = []
            var query = EventQuery(limit: 3)
            var pages = 0
            while true {
                let page = try await store.events(query)
                seen += page.items.map(\.event.id)
                pages += 1
                guard let next = page.nextBefore else { break }
                query.before = next
            }
            #expect(seen == expected.reversed())
            #expect(pages == 4)

            func ids(_ query: EventQuery) async throws -> [String] {
                try await store.events(query).items.map(\.event.id)
            }
            #expect(try await ids(EventQuery(vendor: "tracktik")) == [9, 7, 5, 3, 1].map { expected[$0] })
            #expect(try await ids(EventQuery(type: "job.created")) == [9, 6, 3, 0].map { expected[$0] })
            #expect(
                try await ids(EventQuery(jobKey: "techlink:summit-telecom:job-0")) == [8, 4, 0].map { expected[$0] }
            )
            #expect(try await ids(EventQuery(status: "completed")) == [5, 0].map { expected[$0] })
            let since = UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + 3000)
            let until = UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + 6000)
            #expect(try await ids(EventQuery(since: since, until: until)) == [5, 4, 3].map { expected[$0] })
            #expect(try await ids(EventQuery(vendor: "techlink", tenant: "elsewhere")).isEmpty)
        }
    }

    @Test(arguments: StoreKind.available)
    func aJobsEventsComeInAcceptanceOrder(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            var expected: [String] = []
            for index in 0..<5 {
                let candidate = Samples.candidate(jobID: index == 2 ? "other" : "J-1", content: "job \(index)")
                _ = try await store.insertIfNew(candidate)
                if index != 2 { expected.append(candidate.key.eventID) }
            }
            let events = try await store.events(jobKey: "techlink:summit-telecom:J-1")
            #expect(events.map(\.event.id) == expected)
            #expect(events.map(\.sequence) == events.map(\.sequence).sorted())
            #expect(try await store.events(jobKey: "techlink:summit-telecom:none").isEmpty)
        }
    }

    @Test(arguments: StoreKind.available)
    func eventsAfterASequenceComeOldestFirst(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            var ids: [String] = []
            for index in 0..<6 {
                let candidate = Samples.candidate(content: "stream \(index)")
                _ = try await store.insertIfNew(candidate)
                ids.append(candidate.key.eventID)
            }
            let all = try await store.events(after: 0, limit: 100)
            #expect(all.map(\.event.id) == ids)
            let rest = try await store.events(after: all[1].sequence, limit: 3)
            #expect(rest.map(\.event.id) == Array(ids[2..<5]))
            #expect(try await store.events(after: all[5].sequence, limit: 10).isEmpty)
        }
    }

    @Test(arguments: StoreKind.available)
    func quarantineKeepsTheRequestAndRecordsItsReplay(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            for index in 0..<5 {
                try await store.quarantine(
                    Samples.quarantined(id: "q_\(index)", tenant: index == 4 ? "other" : "summit-telecom")
                )
            }
            let stored = try #require(try await store.quarantinedRequest(id: "q_1"))
            #expect(stored.raw == Samples.quarantined(id: "q_1").raw)
            #expect(stored.problem == Samples.quarantined(id: "q_1").problem)
            #expect(stored.replayedAs == nil)

            let first = try await store.quarantinedRequests(QuarantineQuery(limit: 2))
            #expect(first.items.map(\.id) == ["q_4", "q_3"])
            let second = try await store.quarantinedRequests(QuarantineQuery(before: first.nextBefore, limit: 2))
            #expect(second.items.map(\.id) == ["q_2", "q_1"])
            let last = try await store.quarantinedRequests(QuarantineQuery(before: second.nextBefore, limit: 2))
            #expect(last.items.map(\.id) == ["q_0"])
            #expect(last.nextBefore == nil)
            #expect(try await store.quarantinedRequests(QuarantineQuery(tenant: "other")).items.map(\.id) == ["q_4"])

            let replayedAt = UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + 5000)
            let candidate = Samples.candidate(content: "replayed", receivedAt: replayedAt)
            #expect(
                try await store.insertReplay(candidate, quarantineID: "q_1", at: replayedAt)
                    == .replayed(.inserted(candidate.event))
            )
            let replayed = try #require(try await store.quarantinedRequest(id: "q_1"))
            #expect(replayed.replayedAs == candidate.key.eventID)
            #expect(replayed.replayedAt == replayedAt)
            #expect(try await store.event(id: candidate.key.eventID)?.raw == candidate.raw)
            #expect(try await store.quarantinedRequest(id: "q_missing") == nil)
        }
    }

    /// Replay is one transaction: a request replayed before stores nothing and names the event it became.
    @Test(arguments: StoreKind.available)
    func aRequestIsReplayedOnceAndTheSecondReplayNamesItsEvent(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            try await store.quarantine(Samples.quarantined(id: "q_once"))
            let first = Samples.candidate(content: "first replay")
            #expect(
                try await store.insertReplay(first, quarantineID: "q_once", at: Samples.start)
                    == .replayed(.inserted(first.event))
            )
            let second = Samples.candidate(content: "second replay")
            #expect(
                try await store.insertReplay(second, quarantineID: "q_once", at: Samples.start)
                    == .alreadyReplayed(eventID: first.key.eventID, at: Samples.start)
            )
            #expect(try await store.event(id: second.key.eventID) == nil)
            #expect(try await store.events(EventQuery()).items.map(\.event.id) == [first.key.eventID])
            #expect(try await store.insertReplay(second, quarantineID: "q_none", at: Samples.start) == .notFound)
            #expect(try await store.event(id: second.key.eventID) == nil)
        }
    }

    @Test(arguments: StoreKind.available)
    func concurrentReplaysOfOneRequestMakeOneEvent(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            try await store.quarantine(Samples.quarantined(id: "q_race"))
            let outcomes = try await withThrowingTaskGroup(of: ReplayInsertOutcome.self) { group in
                for index in 0..<16 {
                    group.addTask {
                        try await store.insertReplay(
                            Samples.candidate(content: "racing replay \(index)"),
                            quarantineID: "q_race",
                            at: Samples.start
                        )
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let replayed = outcomes.compactMap { outcome -> String? in
                if case .replayed(let inserted) = outcome { return inserted.eventID }
                return nil
            }
            #expect(replayed.count == 1)
            for outcome in outcomes {
                if case .alreadyReplayed(let eventID, _) = outcome { #expect(eventID == replayed.first) }
            }
            #expect(try await store.events(EventQuery()).items.count == 1)
            #expect(try await store.quarantinedRequest(id: "q_race")?.replayedAs == replayed.first)
        }
    }

    /// A replay whose event duplicates one already accepted records the original.
    @Test(arguments: StoreKind.available)
    func aReplayThatDuplicatesAnEventRecordsTheOriginal(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            let original = Samples.candidate(content: "seen before")
            _ = try await store.insertIfNew(original)
            try await store.quarantine(Samples.quarantined(id: "q_dup"))
            let later = UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + 1000)
            let copy = Samples.candidate(content: "seen before", receivedAt: later)
            #expect(
                try await store.insertReplay(copy, quarantineID: "q_dup", at: later)
                    == .replayed(.duplicate(id: original.event.id))
            )
            #expect(try await store.quarantinedRequest(id: "q_dup")?.replayedAs == original.key.eventID)
            #expect(try await store.events(EventQuery()).items.count == 1)
        }
    }

    // MARK: Retention

    static func minutes(_ count: Int64) -> UTCTimestamp {
        UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + count * 60_000)
    }

    @Test(arguments: StoreKind.available)
    func retentionDeletesExactlyTheEventsReceivedBeforeItsCutoffInBatches(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            var ids: [String] = []
            for minute in 0..<10 {
                let candidate = Samples.candidate(
                    content: "old \(minute)",
                    receivedAt: Self.minutes(Int64(minute)),
                    window: .seconds(1)
                )
                _ = try await store.insertIfNew(candidate)
                ids.append(candidate.key.eventID)
            }
            let now = Self.minutes(60)
            #expect(try await store.deleteEvents(receivedBefore: Self.minutes(5), now: now, limit: 2) == 2)
            #expect(try await store.event(id: ids[0]) == nil)
            #expect(try await store.event(id: ids[1]) == nil)
            #expect(try await store.event(id: ids[2]) != nil)
            #expect(try await store.deleteEvents(receivedBefore: Self.minutes(5), now: now, limit: 100) == 3)
            #expect(try await store.deleteEvents(receivedBefore: Self.minutes(5), now: now, limit: 100) == 0)
            // Received at exactly the cutoff is not older than it.
            let left = try await store.events(EventQuery()).items.map(\.event.id)
            #expect(left == Array(ids[5...].reversed()))
            #expect(try await store.events(jobKey: "techlink:summit-telecom:207118").count == 5)
        }
    }

    /// However old, an event whose dedupe key still counts stays, and its copies stay duplicates.
    @Test(arguments: StoreKind.available)
    func retentionKeepsWhatDedupeStillNeeds(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            let long = Samples.candidate(content: "long window", window: .seconds(3600))
            _ = try await store.insertIfNew(long)
            #expect(
                try await store.deleteEvents(receivedBefore: Self.minutes(30), now: Self.minutes(30), limit: 100) == 0
            )
            let copy = Samples.candidate(content: "long window", receivedAt: Self.minutes(31))
            #expect(try await store.insertIfNew(copy) == .duplicate(id: long.event.id))
            #expect(
                try await store.deleteEvents(receivedBefore: Self.minutes(90), now: Self.minutes(90), limit: 100) == 1
            )

            // A key accepted again after its window: the later acceptance counts, the earlier one is old. Whatever
            // the store deletes now, a copy within the later window is a duplicate of the later acceptance.
            let first = Samples.candidate(content: "recurring", receivedAt: Self.minutes(100), window: .seconds(60))
            _ = try await store.insertIfNew(first)
            let again = Samples.candidate(content: "recurring", receivedAt: Self.minutes(110), window: .seconds(600))
            guard case .inserted(let second) = try await store.insertIfNew(again) else {
                Issue.record("a repeat after the window is a new event")
                return
            }
            _ = try await store.deleteEvents(receivedBefore: Self.minutes(105), now: Self.minutes(112), limit: 100)
            let copyOfSecond = Samples.candidate(
                content: "recurring",
                receivedAt: Self.minutes(113),
                window: .seconds(600)
            )
            #expect(try await store.insertIfNew(copyOfSecond) == .duplicate(id: second.id))
            #expect(try await store.event(id: second.id) != nil)
            // Once every acceptance has expired, both go.
            _ = try await store.deleteEvents(receivedBefore: Self.minutes(200), now: Self.minutes(200), limit: 100)
            #expect(try await store.events(EventQuery()).items.isEmpty)
        }
    }

    @Test(arguments: StoreKind.available)
    func retentionDeletesQuarantinedRequestsReceivedBeforeItsCutoff(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            for minute in 0..<5 {
                try await store.quarantine(
                    Samples.quarantined(id: "q_\(minute)", receivedAt: Self.minutes(Int64(minute)))
                )
            }
            #expect(try await store.deleteQuarantinedRequests(receivedBefore: Self.minutes(2), limit: 1) == 1)
            #expect(try await store.deleteQuarantinedRequests(receivedBefore: Self.minutes(2), limit: 10) == 1)
            #expect(try await store.deleteQuarantinedRequests(receivedBefore: Self.minutes(2), limit: 10) == 0)
            let left = try await store.quarantinedRequests(QuarantineQuery()).items.map(\.id)
            #expect(left == ["q_4", "q_3", "q_2"])
        }
    }

    @Test(arguments: StoreKind.available)
    func purgeRemovesOnlyExpiredKeys(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            _ = try await store.insertIfNew(Samples.candidate(content: "short", window: .seconds(60)))
            _ = try await store.insertIfNew(Samples.candidate(content: "long", window: .seconds(3600)))
            let later = UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + 120_000)
            #expect(try await store.purgeExpiredKeys(before: later) == 1)
            #expect(try await store.purgeExpiredKeys(before: later) == 0)
            // The long key still dedupes; the events themselves are never purged.
            let repeat_ = Samples.candidate(content: "long", receivedAt: later)
            #expect(try await store.insertIfNew(repeat_) != .inserted(repeat_.event))
            #expect(try await store.events(EventQuery()).items.count == 2)
            try await store.checkWritable()
        }
    }
}

@Suite("SQLite store")
struct SQLiteStoreTests {
    @Test func dedupeKeysEventsAndQuarantineSurviveReopening() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("restart.db")
        let candidate = StoreSamples.candidate(content: "before restart")
        do {
            let store = try SQLiteEventStore(path: path)
            #expect(try await store.insertIfNew(candidate) == .inserted(candidate.event))
            try await store.quarantine(StoreSamples.quarantined(id: "q_kept"))
        }
        let reopened = try SQLiteEventStore(path: path)
        #expect(try await reopened.insertIfNew(candidate) == .duplicate(id: candidate.event.id))
        #expect(try await reopened.event(id: candidate.key.eventID)?.raw == candidate.raw)
        #expect(try await reopened.quarantinedRequest(id: "q_kept") != nil)
        // Sequences keep increasing across the restart.
        let next = StoreSamples.candidate(content: "after restart")
        _ = try await reopened.insertIfNew(next)
        let page = try await reopened.events(EventQuery())
        #expect(page.items.map(\.event.id) == [next.key.eventID, candidate.key.eventID])
    }

    @Test func concurrentWritesShareCommits() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let batches = BatchLog()
        let store = try SQLiteEventStore(path: directory.path("batches.db")) { batches.record($0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { _ = try await store.insertIfNew(StoreSamples.candidate(content: "batch \(index)")) }
            }
            try await group.waitForAll()
        }
        let sizes = batches.sizes
        #expect(sizes.reduce(0, +) == 200)
        // 200 concurrent writers cannot all have waited for a commit of their own.
        #expect(sizes.count < 200)
        #expect(sizes.contains { $0 > 1 })
    }

    /// SQLite's own checkpoint is off (it would run inside a commit); the background one must keep the log short
    /// and move the pages into the database file. Without it these commits leave everything in a growing log.
    ///
    /// A writer that never pauses is the hard case: it begins each commit before a background pass catches up,
    /// so the log restarts only through the committer's own checkpoint once the log file grows past 8,192 frames
    /// (32 MiB). That rule reads the file after every commit, so the bound holds however the background pass is
    /// scheduled (it used to be learnt from the pass, and a slow pass let the log reach 53–67 MiB).
    @Test func theWriteAheadLogIsCheckpointedInTheBackground() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("checkpointed.db")
        let store = try SQLiteEventStore(path: path)
        // 4,000 commits of at least four pages each, one after another: without checkpoints the log would pass
        // 64 MiB. The file is the log's longest extent (a restarted log overwrites it from the start).
        for index in 0..<4_000 {
            _ = try await store.insertIfNew(StoreSamples.candidate(content: "checkpoint \(index)"))
        }
        let databaseBytes = try RepositoryPaths.fileSize(path)
        let logBytes = try RepositoryPaths.fileSize(path + "-wal")
        #expect(databaseBytes > 1 << 20, "the database file holds the events")
        #expect(logBytes < 36 << 20, "the log restarts soon after 32 MiB instead of growing with every commit")
        #expect(try await store.events(EventQuery(limit: 1)).items.count == 1)
    }

    /// Databases written before dedupe keys moved into the event row keep deduping after the upgrade: a live key
    /// is still a duplicate, an expired one still counts its occurrences.
    @Test func anUpgradedDatabaseKeepsItsDedupeKeys() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("v2.db")
        let live = StoreSamples.candidate(content: "live key")
        let expired = StoreSamples.candidate(content: "expired key", window: .zero)
        do {
            let queue = try DatabaseQueue(path: path)
            try SQLiteSchema.migrator.migrate(queue, upTo: "v2: subscribers and the delivery outbox")
            try await queue.write { database in
                for candidate in [live, expired] {
                    let event = candidate.event
                    try database.execute(
                        sql: """
                            INSERT INTO event (id, vendor, tenant, type, jobKey, status, time, receivedAt, json,
                                               rawMethod, rawPath, rawHeaders, rawBody)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'POST', '/', '[]', x'')
                            """,
                        arguments: [
                            event.id, event.vendor, event.tenant, event.type.rawValue, event.job?.key,
                            event.job?.status?.rawValue, event.time.millisecondsSinceEpoch,
                            event.receivedAt.millisecondsSinceEpoch, Data(event.jsonBytes),
                        ]
                    )
                    try database.execute(
                        sql: "INSERT INTO dedupe_key (digest, eventID, expiresAt, occurrences) VALUES (?, ?, ?, 1)",
                        arguments: [candidate.key.digest, event.id, candidate.keyExpiresAt.millisecondsSinceEpoch]
                    )
                }
            }
        }
        let store = try SQLiteEventStore(path: path)
        #expect(try await store.insertIfNew(live) == .duplicate(id: live.event.id))
        guard case .inserted(let again) = try await store.insertIfNew(expired) else {
            Issue.record("an expired key must accept the event again")
            return
        }
        #expect(again.id == expired.key.eventID(occurrence: 2))
        #expect(try await store.purgeExpiredKeys(before: UTCTimestamp(millisecondsSinceEpoch: .max)) == 2)
    }

    @Test func aFileThatIsNotADatabaseIsRefusedAtOpen() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("garbage.db")
        try RepositoryPaths.write(Array(repeating: 0x41, count: 4096), to: path)
        #expect(throws: (any Error).self) { try SQLiteEventStore(path: path) }
    }
}

final class BatchLog: Sendable {
    private let log = Mutex<[Int]>([])
    func record(_ size: Int) { log.withLock { $0.append(size) } }
    var sizes: [Int] { log.withLock { $0 } }
}
