import AsyncHTTPClient
import FieldgateCore
import FieldgateDelivery
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import FieldgateVendors
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MetricsTestKit
import Synchronization
import Testing

import struct NIOCore.ByteBuffer

/// Fails a refused connection at once rather than retrying it until the request's deadline.
let testClientConfiguration: HTTPClient.Configuration = {
    var configuration = DeliveryEngine.clientConfiguration
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(1)
    return configuration
}()

/// Loopback only: the receivers of these tests run on this machine, and nothing else may be reached.
let loopbackOnly = NetworkPolicy(allowNetworks: [IPNetwork("127.0.0.0/8")!, IPNetwork("::1/128")!])

/// A gateway's pipeline, store and delivery engine on a real SQLite file, with a virtual delivery clock.
struct DeliveryHarness: Sendable {
    static let start = StoreSamples.start
    let store: SQLiteEventStore
    let pipeline: IngestPipeline
    let engine: DeliveryEngine
    let engineClock: VirtualDeliveryClock
    let ingestClock: ManualWallClock

    let metrics = TestMetrics()

    /// `engineStore` lets a test put a decorator between the engine and the store (``LateClaimStore``).
    init(
        databasePath: String,
        subscribers: [Subscriber],
        clock: VirtualDeliveryClock? = nil,
        networkPolicy: NetworkPolicy = loopbackOnly,
        resolver: any AddressResolver = StaticAddressResolver([:]),
        engineStore: (SQLiteEventStore) -> any DeliveryStore = { $0 }
    ) async throws {
        store = try SQLiteEventStore(path: databasePath)
        for subscriber in subscribers { try await store.saveSubscriber(subscriber) }
        let configuration = try GatewayConfiguration.parse(yaml: "tenants: [{vendor: techlink, tenant: cobalt-pos}]")
        ingestClock = ManualWallClock(Self.start)
        engineClock = clock ?? VirtualDeliveryClock(Self.start)
        var logger = Logger(label: "delivery-test")
        logger.logLevel = .critical
        // The virtual clock jumps to each wake-up time; a long idle poll lets it jump straight to the next retry.
        var engineConfiguration = DeliveryEngine.Configuration()
        engineConfiguration.idlePoll = Duration.seconds(86_400)
        engineConfiguration.http = testClientConfiguration
        engineConfiguration.networkPolicy = networkPolicy
        let engine = DeliveryEngine(
            store: engineStore(store),
            resolver: resolver,
            clock: engineClock,
            jitter: NoJitter(),
            logger: logger,
            configuration: engineConfiguration,
            metrics: metrics
        )
        self.engine = engine
        pipeline = IngestPipeline(
            directory: try TenantDirectory(configuration: configuration, adapters: BuiltInVendors.adapters),
            store: store,
            clock: ingestClock,
            maxBodyBytes: 1 << 20,
            onAccepted: { _ in engine.wake() }
        )
    }

    /// Accepts a TechLink status change for `workOrder`; returns its event ID.
    @discardableResult
    func accept(workOrder: String, code: Int) async throws -> String {
        let body = #"{"event":"work order status change","workorder_id":"\#(workOrder)","new_status_code":"\#(code)"}"#
        let outcome = try await pipeline.process(
            InboundRequest(
                method: "POST",
                path: "/webhooks/techlink/cobalt-pos",
                headers: RequestHeaders([(name: "Content-Type", value: "application/json")]),
                body: Array(body.utf8)
            )
        )
        ingestClock.advance(by: .milliseconds(1))
        guard case .accepted(let event) = outcome else { throw TestSupportError("not accepted: \(outcome)") }
        return event.id
    }

    /// Runs the engine while `body` runs.
    func running<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await engine.run()
                return nil
            }
            let result = try await body()
            group.cancelAll()
            return result
        }
    }

    /// Polls the store until every delivery of `subscriber` is in one of `states` (bounded: 20 s of real time).
    func waitUntil(
        _ subscriber: String,
        count: Int,
        are states: Set<Delivery.State>,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [Delivery] {
        for _ in 0..<2000 {
            let deliveries = try await store.deliveries(DeliveryQuery(subscriberID: subscriber, limit: 500)).items
            if deliveries.count == count, deliveries.allSatisfy({ states.contains($0.state) }) {
                return deliveries.reversed()
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let deliveries = try await store.deliveries(DeliveryQuery(subscriberID: subscriber, limit: 500)).items
        Issue.record(
            "deliveries never reached \(states): \(deliveries.map { "\($0.id) \($0.state) \($0.attempts)" })",
            sourceLocation: sourceLocation
        )
        return deliveries.reversed()
    }
}

/// Holds back a claim that returned a delivery already claimed before and not yet recorded (its lease ran out while
/// the attempt was under way) until that attempt's result is recorded: the race between a claim and an attempt
/// finishing, made certain instead of rare.
final class LateClaimStore: DeliveryStore {
    let base: SQLiteEventStore
    private let state = Mutex<(claimed: Set<Int64>, recorded: Set<Int64>)>(([], []))

    init(_ base: SQLiteEventStore) { self.base = base }

    func claimDueDeliveries(
        now: UTCTimestamp,
        leaseMargin: Duration,
        limit: Int,
        inFlight: [String: Int],
        paused: Set<String>
    ) async throws -> [DueDelivery] {
        let due = try await base.claimDueDeliveries(
            now: now,
            leaseMargin: leaseMargin,
            limit: limit,
            inFlight: inFlight,
            paused: paused
        )
        let ids = Set(due.map(\.delivery.id))
        let stale = state.withLock { state in
            defer { state.claimed.formUnion(ids) }
            return ids.intersection(state.claimed).subtracting(state.recorded)
        }
        guard !stale.isEmpty else { return due }
        for _ in 0..<500 where !state.withLock({ stale.isSubset(of: $0.recorded) }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        // Let the finished attempt's task leave the engine's in-flight set.
        try await Task.sleep(for: .milliseconds(100))
        return due
    }

    func record(_ attempt: DeliveryAttempt, disableAfter: Duration?) async throws -> RecordedAttempt {
        let recorded = try await base.record(attempt, disableAfter: disableAfter)
        state.withLock { _ = $0.recorded.insert(attempt.deliveryID) }
        return recorded
    }

    func releaseLeases(deliveryIDs: [Int64]) async throws { try await base.releaseLeases(deliveryIDs: deliveryIDs) }
    func deleteDeliveredDeliveries(deliveredBefore instant: UTCTimestamp, limit: Int) async throws -> Int {
        try await base.deleteDeliveredDeliveries(deliveredBefore: instant, limit: limit)
    }
    func deliveryBacklog() async throws -> [DeliveryBacklog] { try await base.deliveryBacklog() }
    func deliveryHealth(since: UTCTimestamp) async throws -> [DeliveryHealth] {
        try await base.deliveryHealth(since: since)
    }

    func subscribers() async throws -> [Subscriber] { try await base.subscribers() }
    func subscriber(id: String) async throws -> Subscriber? { try await base.subscriber(id: id) }
    func saveSubscriber(_ subscriber: Subscriber) async throws { try await base.saveSubscriber(subscriber) }
    func deleteSubscriber(id: String) async throws -> Bool { try await base.deleteSubscriber(id: id) }
    func nextDueTime(after now: UTCTimestamp) async throws -> UTCTimestamp? { try await base.nextDueTime(after: now) }
    func deliveries(_ query: DeliveryQuery) async throws -> Page<Delivery> { try await base.deliveries(query) }
    func delivery(id: Int64) async throws -> Delivery? { try await base.delivery(id: id) }
    func attempts(deliveryID: Int64) async throws -> [DeliveryAttempt] {
        try await base.attempts(deliveryID: deliveryID)
    }
    func redeliver(id: Int64, now: UTCTimestamp) async throws -> Delivery? {
        try await base.redeliver(id: id, now: now)
    }
    func recover(subscriberID: String, since: UTCTimestamp, now: UTCTimestamp) async throws -> Int {
        try await base.recover(subscriberID: subscriberID, since: since, now: now)
    }
}

/// A delivery whose first attempt timed out, retried until delivered. A machine too busy to answer a later attempt
/// in time may let that one time out too: a retry like the first, not a failure of the test.
func expectTimedOutThenDelivered(
    _ attempts: [DeliveryAttempt],
    firstError: String = "timed out",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(attempts.first?.error?.contains(firstError) == true, sourceLocation: sourceLocation)
    #expect(attempts.count >= 2, sourceLocation: sourceLocation)
    #expect(attempts.last?.result.name == "delivered", sourceLocation: sourceLocation)
    #expect(
        attempts.dropLast().allSatisfy { $0.result.name == "retry" && $0.error?.contains("timed out") == true },
        sourceLocation: sourceLocation
    )
}
