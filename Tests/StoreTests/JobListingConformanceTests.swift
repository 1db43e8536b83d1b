import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import GRDB
import Testing

@testable import FieldgateSQLite

/// `jobs(_:)` of every ``EventStore``: one entry per job, its latest status in timeline order, kept by the writes.
@Suite("Job listing conformance")
struct JobListingConformanceTests {
    typealias Samples = StoreSamples

    static func at(minutes: Int64) -> UTCTimestamp {
        UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + minutes * 60_000)
    }

    /// An event of `job` that happened at minute `minute`, received at minute `received` (default: when it happened).
    static func event(
        _ content: String,
        job: String = "207118",
        tenant: String = "summit-telecom",
        status: JobStatus?,
        minute: Int64,
        received: Int64? = nil
    ) -> EventCandidate {
        Samples.candidate(
            tenant: tenant,
            jobID: job,
            status: status,
            content: content,
            receivedAt: at(minutes: received ?? minute),
            time: at(minutes: minute)
        )
    }

    @Test(arguments: StoreKind.available)
    func aJobsEntryFollowsItsEventsInTimelineOrder(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            _ = try await store.insertIfNew(Self.event("a", status: .dispatched, minute: 1))
            _ = try await store.insertIfNew(Self.event("b", status: .onSite, minute: 10))
            // Late: it happened before on_site, so it does not change the status.
            _ = try await store.insertIfNew(Self.event("c", status: .enRoute, minute: 5, received: 12))
            // A note says nothing about status: the job's last event moves, its status does not.
            let noteID = try await store.insertIfNew(Self.event("d", status: nil, minute: 20)).eventID
            let page = try await store.jobs(JobQuery())
            #expect(page.next == nil)
            let job = try #require(page.jobs.first)
            #expect(page.jobs.count == 1)
            #expect(job.key == "techlink:summit-telecom:207118")
            #expect(job.vendor == "techlink" && job.tenant == "summit-telecom" && job.jobID == "207118")
            #expect(job.status == .onSite)
            #expect(job.vendorStatus == VendorStatus(code: "22", name: "on_site"))
            #expect(job.statusAt == Self.at(minutes: 10))
            #expect(job.updatedAt == Self.at(minutes: 10))
            #expect(job.lastEventAt == Self.at(minutes: 20))
            #expect(job.lastEventID == noteID)
            #expect(job.eventCount == 4)
            // The timeline's rule over the same events gives the same entry.
            let events = try await store.events(jobKey: job.key)
            #expect(JobSummary(events: events.map { ($0.event, $0.sequence) }) == job)
        }
    }

    @Test(arguments: StoreKind.available)
    func duplicatesAndEventsWithoutAJobLeaveTheListingAlone(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            _ = try await store.insertIfNew(Self.event("a", status: .dispatched, minute: 1))
            #expect(
                try await store.insertIfNew(Self.event("a", status: .dispatched, minute: 1, received: 2)).isDuplicate
            )
            _ = try await store.insertIfNew(
                Samples.candidate(type: .siteCreated, jobID: nil, status: nil, content: "site")
            )
            let page = try await store.jobs(JobQuery())
            #expect(page.jobs.map(\.eventCount) == [1])
        }
    }

    @Test(arguments: StoreKind.available)
    func aJobWithoutAStatusIsListedByItsLastEvent(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            _ = try await store.insertIfNew(Self.event("n1", status: nil, minute: 3))
            _ = try await store.insertIfNew(Self.event("n2", status: nil, minute: 7))
            let job = try #require(try await store.jobs(JobQuery()).jobs.first)
            #expect(job.status == nil && job.vendorStatus == nil && job.statusAt == nil)
            #expect(job.updatedAt == Self.at(minutes: 7))
            #expect(try await store.jobs(JobQuery(status: .dispatched)).jobs.isEmpty)
        }
    }

    @Test(arguments: StoreKind.available)
    func filtersAndPagesMostRecentlyUpdatedFirst(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            // Jobs j0…j9 updated at minutes 0…9; odd ones on_site, even ones dispatched; j7 and j8 of another tenant.
            for index in 0..<10 {
                _ = try await store.insertIfNew(
                    Self.event(
                        "j\(index)",
                        job: "j\(index)",
                        tenant: index == 7 || index == 8 ? "other" : "summit-telecom",
                        status: index % 2 == 1 ? .onSite : .dispatched,
                        minute: Int64(index)
                    )
                )
            }
            // Two jobs updated at the same instant are ordered by key, descending.
            _ = try await store.insertIfNew(Self.event("t1", job: "tie-a", status: .closed, minute: 30))
            _ = try await store.insertIfNew(Self.event("t2", job: "tie-b", status: .closed, minute: 30))

            let all = try await store.jobs(JobQuery(limit: 500)).jobs.map(\.jobID)
            #expect(all == ["tie-b", "tie-a", "j9", "j8", "j7", "j6", "j5", "j4", "j3", "j2", "j1", "j0"])

            var pages: [[String]] = []
            var cursor: JobCursor?
            repeat {
                let page = try await store.jobs(JobQuery(after: cursor, limit: 5))
                pages.append(page.jobs.map(\.jobID))
                cursor = page.next
            } while cursor != nil
            #expect(pages.flatMap { $0 } == all)
            #expect(pages.map(\.count) == [5, 5, 2])

            #expect(
                try await store.jobs(JobQuery(status: .onSite)).jobs.map(\.jobID) == ["j9", "j7", "j5", "j3", "j1"]
            )
            #expect(try await store.jobs(JobQuery(tenant: "other")).jobs.map(\.jobID) == ["j8", "j7"])
            #expect(try await store.jobs(JobQuery(vendor: "hellotracks")).jobs.isEmpty)
            #expect(
                try await store.jobs(
                    JobQuery(tenant: "summit-telecom", status: .dispatched, updatedBefore: Self.at(minutes: 4))
                )
                .jobs.map(\.jobID) == ["j2", "j0"]
            )
            // updatedBefore is exclusive.
            #expect(try await store.jobs(JobQuery(updatedBefore: Self.at(minutes: 0))).jobs.isEmpty)
        }
    }

    @Test(arguments: StoreKind.available)
    func retentionRebuildsOrRemovesAJobsEntry(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            // Job A: an old event and a recent one; job B: only old events. Windows are short so keys have expired.
            for candidate in [
                Self.event("a-old", job: "A", status: .dispatched, minute: 0),
                Self.event("b-old", job: "B", status: .onSite, minute: 1),
                Self.event("a-new", job: "A", status: nil, minute: 100),
            ] {
                var candidate = candidate
                candidate.keyExpiresAt = Self.at(minutes: 101)
                _ = try await store.insertIfNew(candidate)
            }
            let deleted = try await store.deleteEvents(
                receivedBefore: Self.at(minutes: 50),
                now: Self.at(minutes: 200),
                limit: 100
            )
            #expect(deleted == 2)
            let jobs = try await store.jobs(JobQuery()).jobs
            #expect(jobs.map(\.jobID) == ["A"])
            #expect(jobs.first?.eventCount == 1)
            #expect(jobs.first?.status == nil)
            #expect(jobs.first?.updatedAt == Self.at(minutes: 100))
        }
    }

    @Test(arguments: StoreKind.available)
    func aReplayedEventCountsForItsJob(_ kind: StoreKind) async throws {
        try await kind.withStore { store async throws in
            try await store.quarantine(Samples.quarantined(id: "q1"))
            let outcome = try await store.insertReplay(
                Self.event("replayed", status: .completed, minute: 3),
                quarantineID: "q1",
                at: Self.at(minutes: 4)
            )
            guard case .replayed(.inserted) = outcome else {
                Issue.record("replay not stored: \(outcome)")
                return
            }
            #expect(try await store.jobs(JobQuery()).jobs.map(\.status) == [.completed])
        }
    }

    @Test func theCursorRoundTripsAndRefusesGarbage() {
        let cursor = JobCursor(updatedAt: Self.at(minutes: 3), key: "techlink:t:a/b:c?d")
        #expect(JobCursor(text: cursor.text) == cursor)
        #expect(
            cursor.text.utf8.allSatisfy {
                $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "=")
            }
        )
        #expect(cursor.text.hasPrefix("\(Self.at(minutes: 3).millisecondsSinceEpoch)."))
        for garbage in [
            "", "!!", "bm9jb2xvbg", "MTIzOg", "YWJjOmtleQ", "12.a", "12.a+b/", ".YWJj", "x.YWJj", "1.2.3",
            "1234567890123456.YWJj", "--1.YWJj", "12.YWJj=",
        ] {
            #expect(JobCursor(text: garbage) == nil, "\(garbage)")
        }
        // Any text of the documented form is a position, whether or not the API returned it.
        #expect(
            JobCursor(text: "-5.YWJj") == JobCursor(updatedAt: UTCTimestamp(millisecondsSinceEpoch: -5), key: "abc")
        )
        #expect(JobCursor(text: "0.") == JobCursor(updatedAt: UTCTimestamp(millisecondsSinceEpoch: 0), key: ""))
        #expect(JobCursor(text: "7.YWI")?.key == "ab")
        #expect(JobCursor(text: "7.YWJ")?.key == "ab", "unused low bits are ignored")
        #expect(JobCursor(text: "7.AAAA")?.key == "\u{1}\u{1}\u{1}", "NUL, which PostgreSQL text cannot hold")
        #expect(JobCursor(text: "7.__8")?.key.utf8.count == 6, "bytes that are not UTF-8 are read leniently")
    }

    @Test func anUpgradedDatabaseListsItsExistingJobs() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("upgrade.db")
        do {
            let store = try SQLiteEventStore(path: path)
            _ = try await store.insertIfNew(Self.event("a", status: .dispatched, minute: 1))
            _ = try await store.insertIfNew(Self.event("b", status: .onSite, minute: 2))
            // Back to a database from before the job table.
            try await store.pool.write { database in
                try database.execute(sql: "DROP TABLE job")
                try database.execute(sql: "DELETE FROM grdb_migrations WHERE identifier LIKE 'v5:%'")
            }
        }
        let reopened = try SQLiteEventStore(path: path)
        let job = try #require(try await reopened.jobs(JobQuery()).jobs.first)
        #expect(job.status == .onSite)
        #expect(job.eventCount == 2)
    }
}

extension InsertOutcome {
    var isDuplicate: Bool {
        if case .duplicate = self { return true }
        return false
    }
}
