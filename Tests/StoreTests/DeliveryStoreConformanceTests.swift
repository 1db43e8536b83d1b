import FieldgateCore
import FieldgateModel
import FieldgatePostgres
import FieldgateSQLite
import FieldgateTestSupport
import Testing

/// Every ``DeliveryStore`` must pass these: the delivery engine and the admin API rely on nothing else.
enum DeliveryStoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    typealias Store = any EventStore & DeliveryStore & StoreChangeAnnouncing

    /// The kinds this machine can run: PostgreSQL only with its server binaries (or when CI requires it).
    static var available: [DeliveryStoreKind] { PostgresTestServer.shouldRun ? allCases : [.sqlite] }

    /// Runs `body` with a fresh, empty store with `subscribers` saved, disposed of afterwards.
    func withStore<T: Sendable>(
        _ subscribers: [Subscriber] = [],
        _ body: @Sendable (Store) async throws -> T
    ) async throws -> T {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let store = try SQLiteEventStore(path: directory.path("deliveries.db"))
            for subscriber in subscribers { try await store.saveSubscriber(subscriber) }
            return try await body(store)
        case .postgres:
            return try await withPostgresStore { store in
                for subscriber in subscribers { try await store.saveSubscriber(subscriber) }
                return try await body(store)
            }
        }
    }
}

@Suite("Delivery store conformance")
struct DeliveryStoreConformanceTests {
    typealias Samples = StoreSamples

    static func at(seconds: Int64) -> UTCTimestamp {
        UTCTimestamp(millisecondsSinceEpoch: Samples.start.millisecondsSinceEpoch + seconds * 1000)
    }

    /// Accepts `count` events (each its own job unless `job` is given); every matching subscriber gets a delivery.
    @discardableResult
    static func accept(
        _ count: Int,
        into store: DeliveryStoreKind.Store,
        job: String? = nil,
        prefix: String = "e"
    )
        async throws -> [String]
    {
        var ids: [String] = []
        for index in 0..<count {
            let candidate = Samples.candidate(jobID: job ?? "\(prefix)-job-\(index)", content: "\(prefix) \(index)")
            _ = try await store.insertIfNew(candidate)
            ids.append(candidate.key.eventID)
        }
        return ids
    }

    static func claim(
        _ store: DeliveryStoreKind.Store,
        at now: UTCTimestamp = Samples.start,
        limit: Int = 64,
        inFlight: [String: Int] = [:],
        paused: Set<String> = []
    ) async throws -> [DueDelivery] {
        try await store.claimDueDeliveries(
            now: now,
            leaseMargin: .seconds(5),
            limit: limit,
            inFlight: inFlight,
            paused: paused
        )
    }

    static func attempt(
        _ due: DueDelivery,
        _ result: DeliveryAttempt.Result,
        at: UTCTimestamp = Samples.start
    )
        -> DeliveryAttempt
    {
        DeliveryAttempt(
            deliveryID: due.delivery.id,
            at: at,
            statusCode: result == .delivered ? 200 : 503,
            error: result == .delivered ? nil : "HTTP 503",
            durationMilliseconds: 3,
            result: result
        )
    }

    // MARK: Claims

    /// A subscriber at its concurrency limit is skipped in the store, not after fetching: its backlog, however
    /// long and however old, never stops another subscriber's deliveries from being claimed.
    @Test(arguments: DeliveryStoreKind.available)
    func aSaturatedSubscriberNeverHoldsBackAnother(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([
            Subscriber(id: "blackhole", url: "http://a.invalid/", maxConcurrency: 4),
            Subscriber(id: "healthy", url: "http://b.invalid/", maxConcurrency: 4),
        ]) { store async throws in
            try await Self.accept(60, into: store)
            let first = try await Self.claim(store)
            #expect(first.filter { $0.subscriber.id == "blackhole" }.count == 4)
            #expect(first.filter { $0.subscriber.id == "healthy" }.count == 4)
            // The blackhole's four never finish; the healthy subscriber's deliveries keep coming, four at a time.
            var delivered = 0
            var round = first.filter { $0.subscriber.id == "healthy" }
            while !round.isEmpty {
                for due in round { try await store.record(Self.attempt(due, .delivered)) }
                delivered += round.count
                let next = try await Self.claim(store)
                #expect(next.allSatisfy { $0.subscriber.id == "healthy" }, "the saturated subscriber got more")
                #expect(next.count <= 4)
                round = next
            }
            #expect(delivered == 60)
            let healthy = try await store.deliveries(
                DeliveryQuery(subscriberID: "healthy", state: .delivered, limit: 100)
            )
            #expect(healthy.items.count == 60)
        }
    }

    /// Live leases count wherever they were taken (another instance), and this instance's own count too.
    @Test(arguments: DeliveryStoreKind.available)
    func aSubscribersLimitCountsLeasesOnEveryInstance(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([
            Subscriber(id: "board", url: "http://a.invalid/", maxConcurrency: 3)
        ]) { store async throws in
            try await Self.accept(10, into: store)
            #expect(try await Self.claim(store, limit: 2).count == 2)
            #expect(try await Self.claim(store).count == 1)
            #expect(try await Self.claim(store).isEmpty)
            // Another instance's view: its own in-flight count is larger than the leases it sees expire.
            let afterLeases = Self.at(seconds: 36)
            #expect(try await Self.claim(store, at: afterLeases, inFlight: ["board": 2]).count == 1)
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func aJobsDeliveriesGoOutOneAtATimeInAcceptanceOrder(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([Subscriber(id: "portal", url: "http://a.invalid/")]) { store in
            let job = try await Self.accept(3, into: store, job: "J")
            let other = try await Self.accept(2, into: store, job: "K", prefix: "k")
            let first = try await Self.claim(store)
            #expect(Set(first.map(\.delivery.eventID)) == [job[0], other[0]])
            let head = try #require(first.first { $0.delivery.eventID == job[0] })
            // Waiting for its retry, the head still holds its job back; the other job goes on.
            try await store.record(Self.attempt(head, .retry(at: Self.at(seconds: 60))))
            let kHead = try #require(first.first { $0.delivery.eventID == other[0] })
            try await store.record(Self.attempt(kHead, .delivered))
            let kNext = try await Self.claim(store, at: Self.at(seconds: 1))
            #expect(kNext.map(\.delivery.eventID) == [other[1]])
            for due in kNext { try await store.record(Self.attempt(due, .delivered, at: Self.at(seconds: 1))) }
            let retried = try await Self.claim(store, at: Self.at(seconds: 60))
            #expect(retried.map(\.delivery.eventID) == [job[0]])
            try await store.record(Self.attempt(retried[0], .delivered, at: Self.at(seconds: 60)))
            #expect(try await Self.claim(store, at: Self.at(seconds: 61)).map(\.delivery.eventID) == [job[1]])
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func pausedAndDisabledSubscribersAreNotClaimed(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([
            Subscriber(id: "paused", url: "http://a.invalid/"),
            Subscriber(id: "off", url: "http://b.invalid/"),
            Subscriber(id: "on", url: "http://c.invalid/"),
        ]) { store async throws in
            try await Self.accept(3, into: store)
            var off = try #require(try await store.subscriber(id: "off"))
            off.enabled = false
            off.disabledReason = "disabled through the admin API"
            try await store.saveSubscriber(off)
            let claimed = try await Self.claim(store, paused: ["paused"])
            #expect(Set(claimed.map(\.subscriber.id)) == ["on"])
            #expect(claimed.count == 3)
            #expect(try await store.nextDueTime(after: Samples.start) != nil)
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func releasedLeasesAreDueAgainAtOnceWithNoAttemptCounted(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([Subscriber(id: "board", url: "http://a.invalid/")]) { store in
            try await Self.accept(2, into: store)
            let claimed = try await Self.claim(store)
            #expect(claimed.count == 2)
            #expect(try await Self.claim(store).isEmpty)
            try await store.releaseLeases(deliveryIDs: claimed.map(\.delivery.id))
            let again = try await Self.claim(store)
            #expect(Set(again.map(\.delivery.id)) == Set(claimed.map(\.delivery.id)))
            #expect(again.allSatisfy { $0.delivery.attempts == 0 })
            // A lease that ran out (a crashed sender) is claimed again too.
            let later = Self.at(seconds: 36)
            #expect(try await Self.claim(store, at: later).count == 2)
        }
    }

    // MARK: Results and health

    @Test(arguments: DeliveryStoreKind.available)
    func eachResultIsAppliedAndKept(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([Subscriber(id: "board", url: "http://a.invalid/")]) { store in
            try await Self.accept(3, into: store)
            let claimed = try await Self.claim(store).sorted { $0.delivery.id < $1.delivery.id }
            try await store.record(Self.attempt(claimed[0], .delivered))
            try await store.record(Self.attempt(claimed[1], .retry(at: Self.at(seconds: 5))))
            try await store.record(Self.attempt(claimed[2], .dead))
            let delivered = try #require(try await store.delivery(id: claimed[0].delivery.id))
            #expect(delivered.state == .delivered)
            #expect(delivered.deliveredAt == Samples.start)
            let retrying = try #require(try await store.delivery(id: claimed[1].delivery.id))
            #expect(retrying.state == .pending)
            #expect(retrying.attempts == 1)
            #expect(retrying.nextAttemptAt == Self.at(seconds: 5))
            #expect(retrying.lastError == "HTTP 503")
            #expect(try await store.delivery(id: claimed[2].delivery.id)?.state == .dead)
            #expect(
                try await store.attempts(deliveryID: claimed[1].delivery.id).map(\.result) == [
                    .retry(at: Self.at(seconds: 5))
                ]
            )
            #expect(try await store.nextDueTime(after: Samples.start) == Self.at(seconds: 5))
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func a410DisablesTheSubscriberWithAReason(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([Subscriber(id: "gone", url: "http://a.invalid/")]) { store in
            try await Self.accept(1, into: store)
            let due = try #require(try await Self.claim(store).first)
            let recorded = try await store.record(Self.attempt(due, .subscriberGone), disableAfter: nil)
            #expect(recorded.disabledReason?.contains("410") == true)
            let subscriber = try #require(try await store.subscriber(id: "gone"))
            #expect(!subscriber.enabled)
            #expect(subscriber.disabledReason == recorded.disabledReason)
            #expect(try await store.delivery(id: due.delivery.id)?.state == .pending)
            #expect(try await Self.claim(store, at: Self.at(seconds: 3600)).isEmpty)
        }
    }

    /// `delivery.disableAfter`: only an unbroken run of failures that long disables; one success starts it over.
    @Test(arguments: DeliveryStoreKind.available)
    func failingWithoutASuccessForDisableAfterDisablesTheSubscriber(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([
            Subscriber(
                id: "flaky",
                url: "http://a.invalid/",
                retrySchedule: Array(repeating: .seconds(3600), count: 20)
            )
        ]) { store async throws in
            try await Self.accept(1, into: store)
            let day: Int64 = 86_400
            let disableAfter = Duration.seconds(5 * day)
            func fail(at seconds: Int64) async throws -> RecordedAttempt {
                let due = try #require(try await Self.claim(store, at: Self.at(seconds: seconds)).first)
                return try await store.record(
                    Self.attempt(due, .retry(at: Self.at(seconds: seconds + 1)), at: Self.at(seconds: seconds)),
                    disableAfter: disableAfter
                )
            }
            #expect(try await fail(at: 0).disabledReason == nil)
            #expect(try await store.subscriber(id: "flaky")?.failingSince == Samples.start)
            #expect(try await fail(at: 4 * day).disabledReason == nil)
            // One success clears the run.
            try await Self.accept(1, into: store, prefix: "ok")
            let ok = try #require(
                try await Self.claim(store, at: Self.at(seconds: 4 * day + 10)).first { $0.delivery.attempts == 0 }
            )
            let delivered = try await store.record(
                Self.attempt(ok, .delivered, at: Self.at(seconds: 4 * day + 10)),
                disableAfter: disableAfter
            )
            #expect(delivered.disabledReason == nil, "a delivery never disables its subscriber")
            #expect(try await store.subscriber(id: "flaky")?.failingSince == nil)
            #expect(try await fail(at: 6 * day).disabledReason == nil)
            #expect(try await store.subscriber(id: "flaky")?.failingSince == Self.at(seconds: 6 * day))
            let disabling = try await fail(at: 11 * day)
            let reason = try #require(disabling.disabledReason)
            #expect(reason.contains("disableAfter"))
            let subscriber = try #require(try await store.subscriber(id: "flaky"))
            #expect(!subscriber.enabled)
            #expect(subscriber.disabledReason == reason)
        }
    }

    // MARK: Retention, gauges, subscriber fields

    @Test(arguments: DeliveryStoreKind.available)
    func retentionDeletesDeliveredDeliveriesOlderThanItsCutoffAndKeepsDeadLetters(
        _ kind: DeliveryStoreKind
    )
        async throws
    {
        try await kind.withStore([Subscriber(id: "board", url: "http://a.invalid/")]) { store in
            try await Self.accept(4, into: store)
            let claimed = try await Self.claim(store).sorted { $0.delivery.id < $1.delivery.id }
            for (index, due) in claimed.prefix(3).enumerated() {
                try await store.record(Self.attempt(due, .delivered, at: Self.at(seconds: Int64(index) * 60)))
            }
            try await store.record(Self.attempt(claimed[3], .dead))
            #expect(try await store.deleteDeliveredDeliveries(deliveredBefore: Self.at(seconds: 120), limit: 1) == 1)
            #expect(try await store.deleteDeliveredDeliveries(deliveredBefore: Self.at(seconds: 120), limit: 10) == 1)
            #expect(try await store.deleteDeliveredDeliveries(deliveredBefore: Self.at(seconds: 120), limit: 10) == 0)
            #expect(try await store.delivery(id: claimed[0].delivery.id) == nil)
            #expect(try await store.attempts(deliveryID: claimed[0].delivery.id).isEmpty)
            #expect(try await store.delivery(id: claimed[2].delivery.id)?.state == .delivered)
            #expect(try await store.delivery(id: claimed[3].delivery.id)?.state == .dead)
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func deletingAnEventDeletesItsDeliveriesAndAttempts(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([Subscriber(id: "board", url: "http://a.invalid/")]) { store in
            let candidate = Samples.candidate(content: "short lived", window: .seconds(1))
            _ = try await store.insertIfNew(candidate)
            let due = try #require(try await Self.claim(store).first)
            try await store.record(Self.attempt(due, .dead))
            #expect(
                try await store.deleteEvents(receivedBefore: Self.at(seconds: 60), now: Self.at(seconds: 60), limit: 10)
                    == 1
            )
            #expect(try await store.delivery(id: due.delivery.id) == nil)
            #expect(try await store.attempts(deliveryID: due.delivery.id).isEmpty)
            // An attempt that finishes after its delivery went records nothing.
            #expect(try await store.record(Self.attempt(due, .delivered), disableAfter: nil) == RecordedAttempt())
            #expect(try await store.attempts(deliveryID: due.delivery.id).isEmpty)
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func theBacklogCountsPendingAndDeadPerSubscriber(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([
            Subscriber(id: "a", url: "http://a.invalid/"), Subscriber(id: "idle", url: "http://b.invalid/"),
        ]) { store async throws in
            var idle = try #require(try await store.subscriber(id: "idle"))
            idle.filter.vendors = ["nobody"]
            try await store.saveSubscriber(idle)
            try await Self.accept(3, into: store)
            let due = try #require(try await Self.claim(store).sorted { $0.delivery.id < $1.delivery.id }.first)
            try await store.record(Self.attempt(due, .dead))
            let backlog = try await store.deliveryBacklog()
            #expect(
                backlog == [
                    DeliveryBacklog(subscriberID: "a", pending: 2, dead: 1, oldestPendingSince: Samples.start),
                    DeliveryBacklog(subscriberID: "idle", pending: 0, dead: 0, oldestPendingSince: nil),
                ]
            )
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func aSubscriberReadsBackExactly(_ kind: DeliveryStoreKind) async throws {
        let rotated = Subscriber(
            id: "rotated",
            url: "https://hooks.example/x",
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            previousSecret: "whsec_c2VjcmV0LWJlZm9yZS1yb3RhdGlvbg==",
            previousSecretExpiresAt: Self.at(seconds: 86_400),
            filter: SubscriberFilter(types: ["job.*"], vendors: ["techlink"], tenants: ["t"], statuses: ["completed"]),
            enabled: false,
            disabledReason: "disabled through the admin API",
            failingSince: Self.at(seconds: 7),
            retrySchedule: [.seconds(1), .seconds(604_800)],
            timeout: .seconds(300),
            maxConcurrency: 64,
            origin: .config
        )
        try await kind.withStore([rotated]) { store async throws in
            #expect(try await store.subscriber(id: "rotated") == rotated)
            #expect(try await store.subscribers() == [rotated])
        }
    }
}
