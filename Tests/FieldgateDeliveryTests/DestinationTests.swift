import FieldgateCore
import FieldgateDelivery
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import Synchronization
import Testing

/// Where deliveries may go and how long an attempt may take (CONTRACT §7), against real local receivers. Nothing
/// here leaves the machine: refused destinations are refused before a connection is made, and host names resolve
/// through a table (``StaticAddressResolver``), never DNS.
@Suite("Delivery destinations and deadlines", .serialized)
struct DestinationTests {
    func withHarness<T: Sendable>(
        _ subscribers: [Subscriber],
        policy: NetworkPolicy = loopbackOnly,
        resolver: any AddressResolver = StaticAddressResolver([:]),
        _ body: @Sendable (DeliveryHarness) async throws -> T
    ) async throws -> T {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try await DeliveryHarness(
            databasePath: directory.path("destinations.db"),
            subscribers: subscribers,
            networkPolicy: policy,
            resolver: resolver
        )
        return try await body(harness)
    }

    @Test func aRedirectIsAFailedAttemptAndIsNeverFollowed() async throws {
        let receiver = Receiver { request, count in
            // The first answer points at another local endpoint; a client following it would POST the event there.
            count == 1 ? (302, [("Location", "http://\(request.host ?? "127.0.0.1")/other")]) : (200, [])
        }
        try await receiver.serve { url in
            try await withHarness([Subscriber(id: "moved", url: url)]) { harness in
                try await harness.accept(workOrder: "M1", code: 22)
                let delivery = try #require(
                    try await harness.running { try await harness.waitUntil("moved", count: 1, are: [.delivered]) }
                        .first
                )
                let attempts = try await harness.store.attempts(deliveryID: delivery.id)
                #expect(attempts.map(\.result.name) == ["retry", "delivered"])
                #expect(attempts.first?.statusCode == 302)
                #expect(attempts.first?.error?.contains("redirects are not followed") == true)
                #expect(receiver.received.map(\.path) == ["/hook", "/hook"], "the redirect target was requested")
            }
        }
    }

    /// The subscriber's timeout covers the body too: a receiver that sends its head and then stalls mid-body is a
    /// failed attempt after the timeout, retried, not an attempt that hangs.
    @Test func aStalledBodyTimesOutAndIsRetried() async throws {
        let receiver = Receiver { _, count in
            count == 1
                ? ReceiverAnswer(status: 200, body: .stall(declaredLength: 65_536, sent: 10))
                : ReceiverAnswer(status: 200)
        }
        try await receiver.serve { url in
            try await withHarness([Subscriber(id: "stalling", url: url, timeout: .seconds(1))]) { harness in
                try await harness.accept(workOrder: "B1", code: 22)
                let delivery = try #require(
                    try await harness.running { try await harness.waitUntil("stalling", count: 1, are: [.delivered]) }
                        .first
                )
                let attempts = try await harness.store.attempts(deliveryID: delivery.id)
                expectTimedOutThenDelivered(attempts, firstError: "timed out after 1s")
                // The stalled answer and the delivered one reached the receiver; a later attempt that timed out
                // connecting may not have.
                #expect(receiver.received.count >= 2 && receiver.received.count <= attempts.count)
            }
        }
    }

    /// A response body is read up to a small cap, whatever the receiver sends.
    @Test func aHugeResponseBodyIsNotReadToTheEnd() async throws {
        let receiver = Receiver { _, _ in
            ReceiverAnswer(status: 200, body: .stall(declaredLength: 1 << 30, sent: 64 * 1024))
        }
        try await receiver.serve { url in
            try await withHarness([Subscriber(id: "chatty", url: url, timeout: .seconds(30))]) { harness in
                try await harness.accept(workOrder: "H1", code: 22)
                let delivery = try #require(
                    try await harness.running { try await harness.waitUntil("chatty", count: 1, are: [.delivered]) }
                        .first
                )
                #expect(delivery.attempts == 1)
            }
        }
    }

    /// The blackhole's deliveries are older and many; the healthy subscriber's are delivered all the same.
    @Test func aBlackholedSubscriberDoesNotDelayAHealthyOne() async throws {
        let blackhole = try Blackhole()
        defer { blackhole.close() }
        let receiver = Receiver()
        try await receiver.serve { url in
            try await withHarness([Subscriber(id: "blackhole", url: blackhole.url, timeout: .seconds(1))]) { harness in
                for index in 0..<300 { try await harness.accept(workOrder: "old-\(index)", code: 22) }
                try await harness.store.saveSubscriber(Subscriber(id: "healthy", url: url))
                for index in 0..<300 { try await harness.accept(workOrder: "new-\(index)", code: 22) }
                let delivered = try await harness.running {
                    try await harness.waitUntil("healthy", count: 300, are: [.delivered])
                }
                #expect(delivered.count == 300)
                #expect(Set(receiver.received.map(\.jobID)).count == 300)
                let stuck = try await harness.store.deliveries(
                    DeliveryQuery(subscriberID: "blackhole", state: .delivered, limit: 10)
                )
                #expect(stuck.items.isEmpty)
            }
        }
    }

    @Test func allowNetworksRefusesAndAllows() async throws {
        let receiver = Receiver()
        try await receiver.serve { url in
            // Without allowNetworks, the loopback receiver is refused before anything is sent.
            try await withHarness([Subscriber(id: "local", url: url, retrySchedule: [])], policy: NetworkPolicy()) {
                harness in
                try await harness.accept(workOrder: "N1", code: 22)
                let dead = try #require(
                    try await harness.running { try await harness.waitUntil("local", count: 1, are: [.dead]) }.first
                )
                #expect(dead.lastError?.contains("destination refused: 127.0.0.1 is a loopback address") == true)
                #expect(dead.lastError?.contains("delivery.allowNetworks") == true)
                #expect(dead.lastStatus == nil)
            }
            #expect(receiver.received.isEmpty)
            // With it, the same receiver gets the event.
            try await withHarness([Subscriber(id: "local", url: url)], policy: loopbackOnly) { harness in
                try await harness.accept(workOrder: "N2", code: 22)
                _ = try await harness.running { try await harness.waitUntil("local", count: 1, are: [.delivered]) }
            }
            #expect(receiver.received.count == 1)
        }
    }

    /// The system resolver reads `localhost` from the hosts file (no DNS query leaves the machine), and the policy
    /// refuses what it resolves to.
    @Test func theSystemResolverAnswersLocalhostAsLoopback() async throws {
        let addresses = try await SystemAddressResolver().addresses(host: "localhost", port: 80)
        #expect(addresses.contains(IPAddress(literal: "127.0.0.1")!) || addresses.contains(IPAddress(literal: "::1")!))
        #expect(addresses.allSatisfy { NetworkPolicy().refusal(for: $0) != nil })
    }

    /// A literal written the legacy way is the address it connects to: refused as loopback, delivered when allowed.
    @Test func aLegacyLiteralIsCheckedAsTheAddressItIs() async throws {
        let receiver = Receiver()
        try await receiver.serve { url in
            let port = url.split(separator: ":").last!.split(separator: "/").first!
            let legacy = "http://2130706433:\(port)/hook"
            try await withHarness([Subscriber(id: "legacy", url: legacy, retrySchedule: [])], policy: NetworkPolicy()) {
                harness in
                try await harness.accept(workOrder: "L1", code: 22)
                let dead = try #require(
                    try await harness.running { try await harness.waitUntil("legacy", count: 1, are: [.dead]) }.first
                )
                #expect(dead.lastError?.contains("127.0.0.1 is a loopback address") == true)
            }
            #expect(receiver.received.isEmpty)
            try await withHarness([Subscriber(id: "legacy", url: legacy)]) { harness in
                try await harness.accept(workOrder: "L2", code: 22)
                _ = try await harness.running { try await harness.waitUntil("legacy", count: 1, are: [.delivered]) }
            }
            #expect(receiver.received.count == 1)
        }
    }

    /// DNS rebinding: a name is checked by the address it resolves to at every attempt, and the connection goes to
    /// exactly the address that was checked, with the subscriber's host kept in `Host`.
    @Test func aNameIsCheckedByWhatItResolvesToAtEveryAttempt() async throws {
        let receiver = Receiver()
        try await receiver.serve { url in
            let port = url.split(separator: ":").last!.split(separator: "/").first!
            let answers = ResolverAnswers([
                "hooks.partner.test": [["127.0.0.1"], ["10.0.0.5"]],
                "rebind.test": [["10.0.0.5"]],
                "mixed.test": [["192.168.7.7", "127.0.0.1"]],
            ])
            let subscribers = [
                Subscriber(id: "partner", url: "http://hooks.partner.test:\(port)/hook", retrySchedule: []),
                Subscriber(id: "rebind", url: "http://rebind.test:\(port)/hook", retrySchedule: []),
                Subscriber(id: "mixed", url: "http://mixed.test:\(port)/hook", retrySchedule: []),
            ]
            try await withHarness(subscribers, resolver: answers) { harness in
                try await harness.accept(workOrder: "R1", code: 22)
                try await harness.running {
                    _ = try await harness.waitUntil("partner", count: 1, are: [.delivered])
                    _ = try await harness.waitUntil("rebind", count: 1, are: [.dead])
                    _ = try await harness.waitUntil("mixed", count: 1, are: [.delivered])
                }
                let rebound = try #require(
                    try await harness.store.deliveries(DeliveryQuery(subscriberID: "rebind")).items.first
                )
                #expect(rebound.lastError?.contains("rebind.test resolves to 10.0.0.5 is a private address") == true)
                // The partner's name now resolves to a private address (a rebinding): refused, nothing sent.
                try await harness.accept(workOrder: "R2", code: 22)
                try await harness.running {
                    _ = try await harness.waitUntil("partner", count: 2, are: [.delivered, .dead])
                    _ = try await harness.waitUntil("mixed", count: 2, are: [.delivered])
                }
                let second = try #require(
                    try await harness.store.deliveries(DeliveryQuery(subscriberID: "partner", limit: 1)).items.first
                )
                #expect(second.state == .dead)
                #expect(second.lastError?.contains("10.0.0.5") == true)
            }
            let hosts = receiver.received.map { $0.host ?? "" }.sorted()
            #expect(hosts == ["hooks.partner.test:\(port)", "mixed.test:\(port)", "mixed.test:\(port)"])
        }
    }
}

/// A resolver whose answers for a name change from one lookup to the next (the last one repeats).
final class ResolverAnswers: AddressResolver {
    private let answers: Mutex<[String: [[String]]]>

    init(_ answers: [String: [[String]]]) { self.answers = Mutex(answers) }

    func addresses(host: String, port: Int) async throws -> [IPAddress] {
        let next = answers.withLock { table -> [String]? in
            guard var queue = table[host], let first = queue.first else { return nil }
            if queue.count > 1 { queue.removeFirst() }
            table[host] = queue
            return first
        }
        guard let next else { throw DestinationRefused("\(host) does not resolve") }
        return next.compactMap { IPAddress(literal: $0) }
    }
}
