import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import Testing

/// More of what every ``DeliveryStore`` must do: the outbox rows an event writes, claims and leases over time,
/// recorded results, recovery, deletion and the commits it announces.
@Suite("Outbox conformance")
struct OutboxConformanceTests {
    typealias Samples = StoreSamples
    static let start = StoreSamples.start

    static func at(_ seconds: Int64) -> UTCTimestamp {
        UTCTimestamp(millisecondsSinceEpoch: start.millisecondsSinceEpoch + seconds * 1000)
    }

    static func subscriber(
        _ id: String,
        types: [String] = [],
        enabled: Bool = true,
        maxConcurrency: Int = 8,
        timeout: Duration = .seconds(10)
    ) -> Subscriber {
        Subscriber(
            id: id,
            url: "http://127.0.0.1:9/\(id)",
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            filter: SubscriberFilter(types: types),
            enabled: enabled,
            retrySchedule: [.seconds(5), .seconds(60)],
            timeout: timeout,
            maxConcurrency: maxConcurrency
        )
    }

    /// Inserts an event of `job` and returns its ID.
    @discardableResult
    static func accept(
        _ store: DeliveryStoreKind.Store,
        job: String?,
        _ content: String,
        type: EventType = .jobStatusChanged,
        at seconds: Int64 = 0
    ) async throws -> String {
        let candidate = Samples.candidate(type: type, jobID: job, content: content, receivedAt: at(seconds))
        guard case .inserted(let event) = try await store.insertIfNew(candidate) else {
            throw TestSupportError("\(content) was not inserted")
        }
        return event.id
    }

    static func claim(
        _ store: DeliveryStoreKind.Store,
        at seconds: Int64 = 0,
        limit: Int = 50,
        inFlight: [String: Int] = [:],
        paused: Set<String> = []
    ) async throws -> [DueDelivery] {
        try await store.claimDueDeliveries(
            now: at(seconds),
            leaseMargin: .seconds(5),
            limit: limit,
            inFlight: inFlight,
            paused: paused
        )
    }

    static func attempt(
        _ due: DueDelivery,
        at seconds: Int64,
        _ result: DeliveryAttempt.Result,
        status: Int?
    )
        -> DeliveryAttempt
    {
        DeliveryAttempt(
            deliveryID: due.delivery.id,
            at: at(seconds),
            statusCode: status,
            error: result == .delivered ? nil : "HTTP \(status ?? 0)",
            durationMilliseconds: 12,
            result: result
        )
    }

    @Test(arguments: DeliveryStoreKind.available)
    func anAcceptedEventQueuesOneDeliveryPerEnabledMatchingSubscriber(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore { store async throws in
            try await store.saveSubscriber(Self.subscriber("all"))
            try await store.saveSubscriber(Self.subscriber("created-only", types: ["*.created"]))
            try await store.saveSubscriber(Self.subscriber("off", enabled: false))
            let id = try await Self.accept(store, job: "J1", "first")
            let queued = try await store.deliveries(DeliveryQuery(eventID: id)).items
            #expect(queued.map(\.subscriberID) == ["all"])
            #expect(queued.allSatisfy { $0.state == .pending && $0.attempts == 0 && $0.jobKey != nil })
            let created = try await Self.accept(store, job: "J1", "second", type: .jobCreated)
            #expect(
                Set(try await store.deliveries(DeliveryQuery(eventID: created)).items.map(\.subscriberID))
                    == ["all", "created-only"]
            )
            // Subscribers read back as written, secrets included (the store is the only place they live).
            #expect(
                try await store.subscriber(id: "created-only") == Self.subscriber("created-only", types: ["*.created"])
            )
            #expect(try await store.subscribers().map(\.id) == ["all", "created-only", "off"])
            #expect(try await store.subscriber(id: "missing") == nil)
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func claimsLeaseKeepEachJobInOrderAndRespectConcurrency(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore { store async throws in
            try await store.saveSubscriber(Self.subscriber("board", maxConcurrency: 2))
            let a1 = try await Self.accept(store, job: "A", "a1")
            let a2 = try await Self.accept(store, job: "A", "a2")
            let b1 = try await Self.accept(store, job: "B", "b1")
            let site = try await Self.accept(store, job: nil, "site", type: .siteUpdated)

            // Only the head of each job; no more than maxConcurrency.
            let first = try await Self.claim(store)
            #expect(first.map(\.delivery.eventID) == [a1, b1])
            #expect(first[0].body == (try await store.event(id: a1))?.event.jsonBytes)
            #expect(first[0].subscriber.id == "board")
            // Leased: their leases count against the limit, on this instance and any other.
            #expect(try await Self.claim(store).isEmpty)
            // A paused subscriber gets nothing.
            #expect(try await Self.claim(store, at: 100, paused: ["board"]).isEmpty)
            // In flight on this instance counts against the limit even when the leases ran out.
            #expect(try await Self.claim(store, at: 100, inFlight: ["board": 2]).isEmpty)

            // A retry frees its slot, and keeps the job's next one waiting.
            try await store.record(Self.attempt(first[0], at: 1, .retry(at: Self.at(30)), status: 500))
            let siteClaim = try await Self.claim(store, at: 2)
            #expect(siteClaim.map(\.delivery.eventID) == [site])
            // Next: b1's lease runs out (claimed at 0, timeout 10 s + margin 5 s) before the site's and a1's retry.
            #expect(try await store.nextDueTime(after: Self.at(2)) == Self.at(15))
            let released = try await Self.claim(store, at: 16)
            #expect(released.map(\.delivery.eventID) == [b1])
            try await store.record(Self.attempt(released[0], at: 17, .delivered, status: 204))
            try await store.record(Self.attempt(siteClaim[0], at: 17, .delivered, status: 204))
            // a1's retry comes due; a2 stays behind it until a1 is delivered.
            let retried = try await Self.claim(store, at: 31)
            #expect(retried.map(\.delivery.eventID) == [a1])
            #expect(retried[0].delivery.attempts == 1)
            try await store.record(Self.attempt(retried[0], at: 32, .delivered, status: 200))
            #expect(try await Self.claim(store, at: 33).map(\.delivery.eventID) == [a2])
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func attemptsAreRecordedWithTheirResults(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore { store async throws in
            try await store.saveSubscriber(Self.subscriber("billing"))
            try await store.saveSubscriber(Self.subscriber("portal"))
            let id = try await Self.accept(store, job: "J", "recorded")
            let due = try await Self.claim(store)
            #expect(due.count == 2)
            let billing = try #require(due.first { $0.subscriber.id == "billing" })
            let portal = try #require(due.first { $0.subscriber.id == "portal" })
            try await store.record(Self.attempt(billing, at: 1, .retry(at: Self.at(6)), status: 503))
            try await store.record(Self.attempt(portal, at: 1, .dead, status: 400))

            let retried = try #require(try await store.delivery(id: billing.delivery.id))
            #expect(retried.state == .pending)
            #expect(retried.attempts == 1)
            #expect(retried.nextAttemptAt == Self.at(6))
            #expect(retried.lastStatus == 503)
            #expect(retried.lastError == "HTTP 503")
            let attempts = try await store.attempts(deliveryID: billing.delivery.id)
            #expect(attempts.map(\.result) == [.retry(at: Self.at(6))])
            #expect(attempts.first?.statusCode == 503)
            #expect(attempts.first?.durationMilliseconds == 12)

            let dead = try #require(try await store.delivery(id: portal.delivery.id))
            #expect(dead.state == .dead)
            #expect(try await store.deliveries(DeliveryQuery(state: .dead)).items.map(\.id) == [portal.delivery.id])

            let again = try #require(try await Self.claim(store, at: 7).first)
            try await store.record(Self.attempt(again, at: 8, .delivered, status: 200))
            let delivered = try #require(try await store.delivery(id: billing.delivery.id))
            #expect(delivered.state == .delivered)
            #expect(delivered.attempts == 2)
            #expect(delivered.deliveredAt == Self.at(8))
            #expect(delivered.lastError == nil)
            #expect(try await store.attempts(deliveryID: billing.delivery.id).count == 2)
            #expect(try await store.nextDueTime(after: Self.at(8)) == nil)

            // Redelivery puts a dead letter back, due now, attempts counted afresh.
            let redelivered = try #require(try await store.redeliver(id: portal.delivery.id, now: Self.at(9)))
            #expect(redelivered.state == .pending)
            #expect(redelivered.attempts == 0)
            #expect(try await Self.claim(store, at: 9).map(\.delivery.eventID) == [id])
            #expect(try await store.redeliver(id: 999_999, now: Self.at(9)) == nil)
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func a410DisablesTheSubscriberAndItsDeliveriesWait(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore { store async throws in
            try await store.saveSubscriber(Self.subscriber("gone"))
            try await Self.accept(store, job: "J", "one")
            let due = try #require(try await Self.claim(store).first)
            try await store.record(Self.attempt(due, at: 1, .subscriberGone, status: 410))
            let subscriber = try #require(try await store.subscriber(id: "gone"))
            #expect(!subscriber.enabled)
            #expect(subscriber.disabledReason?.contains("410") == true)
            #expect(try await store.delivery(id: due.delivery.id)?.state == .pending)
            #expect(try await Self.claim(store, at: 100).isEmpty)
            // New events are not queued for a disabled subscriber.
            let later = try await Self.accept(store, job: "K", "two", at: 2)
            #expect(try await store.deliveries(DeliveryQuery(eventID: later)).items.isEmpty)
            var enabled = subscriber
            enabled.enabled = true
            enabled.disabledReason = nil
            try await store.saveSubscriber(enabled)
            #expect(try await Self.claim(store, at: 100).map(\.delivery.id) == [due.delivery.id])
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func recoverQueuesMatchingEventsOnceAndDeletingDropsPendingDeliveries(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore { store async throws in
            for index in 0..<4 {
                try await Self.accept(store, job: "R\(index % 2)", "before \(index)", at: Int64(index))
            }
            try await store.saveSubscriber(Self.subscriber("late"))
            #expect(try await store.deliveries(DeliveryQuery(subscriberID: "late")).items.isEmpty)
            #expect(try await store.recover(subscriberID: "late", since: Self.at(1), now: Self.at(10)) == 3)
            // Already pending: not queued twice.
            #expect(try await store.recover(subscriberID: "late", since: Self.at(0), now: Self.at(10)) == 1)
            #expect(try await store.recover(subscriberID: "missing", since: Self.at(0), now: Self.at(10)) == 0)
            let queued = try await store.deliveries(DeliveryQuery(subscriberID: "late", limit: 2))
            #expect(queued.items.count == 2)
            let rest = try await store.deliveries(DeliveryQuery(subscriberID: "late", before: queued.nextBefore))
            #expect(rest.items.count == 2)
            #expect(rest.nextBefore == nil)
            #expect((queued.items + rest.items).map(\.id) == (queued.items + rest.items).map(\.id).sorted(by: >))
            #expect(try await store.deleteSubscriber(id: "late"))
            #expect(!(try await store.deleteSubscriber(id: "late")))
            #expect(try await store.deliveries(DeliveryQuery(subscriberID: "late")).items.isEmpty)
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func theStoreAnnouncesItsCommits(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore { store async throws in
            let events = store.changes.listen(to: .events)
            let deliveries = store.changes.listen(to: .deliveries)
            try await Self.accept(store, job: "N", "announced")
            await events.wait()
            try await store.saveSubscriber(Self.subscriber("announced"))
            await deliveries.wait()
            events.stop()
            deliveries.stop()
        }
    }
}
