import AsyncHTTPClient
import FieldgateCore
import FieldgateDelivery
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import Logging
import Synchronization
import TechLinkAdapter
import Testing

import struct NIOCore.ByteBuffer

/// What a receiver saw: one entry per request, in arrival order.
struct ReceivedRequest: Sendable {
    var eventID: String
    var timestamp: String
    var signature: String?
    var contentType: String?
    var body: [UInt8]
    var jobID: String?
}

/// A local webhook receiver whose answer to each request is decided by the test.
final class Receiver: Sendable {
    typealias Behaviour = @Sendable (_ request: ReceivedRequest, _ count: Int) async -> (Int, [(String, String)])
    private let log = Mutex<[ReceivedRequest]>([])
    let behaviour: Behaviour

    init(_ behaviour: @escaping Behaviour = { _, _ in (200, []) }) {
        self.behaviour = behaviour
    }

    var received: [ReceivedRequest] { log.withLock { $0 } }

    /// Runs the receiver on a free port for the duration of `body`.
    func serve<T: Sendable>(_ body: @escaping @Sendable (_ url: String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("hook") { request, _ -> Response in
            var request = request
            let bytes = Array(try await request.collectBody(upTo: 1 << 20).readableBytesView)
            let event = try? JSONValue(parsing: bytes)
            let received = ReceivedRequest(
                eventID: request.headers[HTTPField.Name("webhook-id")!] ?? "",
                timestamp: request.headers[HTTPField.Name("webhook-timestamp")!] ?? "",
                signature: request.headers[HTTPField.Name("webhook-signature")!],
                contentType: request.headers[.contentType],
                body: bytes,
                jobID: event?["subject"]?.stringValue
            )
            let count = self.log.withLock { log -> Int in
                log.append(received)
                return log.filter { $0.eventID == received.eventID }.count
            }
            let (status, headers) = await self.behaviour(received, count)
            var fields = HTTPFields()
            for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
            return Response(status: .init(code: status), headers: fields)
        }
        var logger = Logger(label: "receiver")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        return try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)/hook")
        }
    }
}

/// Fails a refused connection at once rather than retrying it until the request's deadline.
let testHTTPClient: HTTPClient = {
    var configuration = DeliveryEngine.clientConfiguration
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(1)
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// A gateway's pipeline, store and delivery engine on a real SQLite file, with a virtual delivery clock.
struct DeliveryHarness: Sendable {
    static let start = StoreSamples.start
    let store: SQLiteEventStore
    let pipeline: IngestPipeline
    let engine: DeliveryEngine
    let engineClock: VirtualDeliveryClock
    let ingestClock: ManualWallClock

    init(databasePath: String, subscribers: [Subscriber], clock: VirtualDeliveryClock? = nil) async throws {
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
        let engine = DeliveryEngine(
            store: store, client: testHTTPClient, clock: engineClock, jitter: NoJitter(), logger: logger,
            configuration: engineConfiguration
        )
        self.engine = engine
        pipeline = IngestPipeline(
            directory: try TenantDirectory(configuration: configuration, adapters: [TechLinkAdapter()]),
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
        let outcome = try await pipeline.process(InboundRequest(
            method: "POST",
            path: "/webhooks/techlink/cobalt-pos",
            headers: RequestHeaders([(name: "Content-Type", value: "application/json")]),
            body: Array(body.utf8)
        ))
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
        Issue.record("deliveries never reached \(states): \(deliveries.map { "\($0.id) \($0.state) \($0.attempts)" })",
            sourceLocation: sourceLocation)
        return deliveries.reversed()
    }
}
