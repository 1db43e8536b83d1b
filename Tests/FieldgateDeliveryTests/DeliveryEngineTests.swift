import FieldgateCore
import FieldgateDelivery
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import Foundation
import MetricsTestKit
import Synchronization
import Testing

let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

@Suite("Delivery engine", .serialized)
struct DeliveryEngineTests {
    func withHarness<T: Sendable>(
        _ subscribers: [Subscriber],
        _ body: @Sendable (DeliveryHarness) async throws -> T
    ) async throws -> T {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try await DeliveryHarness(databasePath: directory.path("deliveries.db"), subscribers: subscribers)
        return try await body(harness)
    }

    @Test func aHealthyReceiverGetsEveryEventOnceSigned() async throws {
        let receiver = Receiver()
        try await receiver.serve { url in
            try await withHarness([Subscriber(id: "billing", url: url, secret: secret)]) { harness in
                var ids: [String] = []
                for index in 0..<5 { ids.append(try await harness.accept(workOrder: "W\(index)", code: 22)) }
                let deliveries = try await harness.running {
                    try await harness.waitUntil("billing", count: 5, are: [.delivered])
                }
                #expect(deliveries.map(\.attempts) == [1, 1, 1, 1, 1])
                #expect(Set(receiver.received.map(\.eventID)) == Set(ids))
                #expect(receiver.received.count == 5)
                let signer = try #require(WebhookSigner(secret: secret))
                for request in receiver.received {
                    #expect(request.contentType == "application/cloudevents+json")
                    let stored = try #require(try await harness.store.event(id: request.eventID))
                    #expect(request.body == stored.event.jsonBytes)
                    #expect(
                        request.signature
                            == signer.signature(
                                id: request.eventID,
                                timestamp: Int64(request.timestamp) ?? 0,
                                body: request.body
                            )
                    )
                }
            }
        }
    }

    @Test func aFlakyReceiverIsRetriedOnScheduleUntilItAnswers() async throws {
        let receiver = Receiver { _, count in count <= 2 ? (500, []) : (200, []) }
        try await receiver.serve { url in
            try await withHarness([Subscriber(id: "portal", url: url)]) { harness in
                try await harness.accept(workOrder: "F1", code: 22)
                let delivery = try #require(
                    try await harness.running {
                        try await harness.waitUntil("portal", count: 1, are: [.delivered])
                    }.first
                )
                #expect(delivery.attempts == 3)
                let attempts = try await harness.store.attempts(deliveryID: delivery.id)
                #expect(attempts.map(\.result.name) == ["retry", "retry", "delivered"])
                #expect(attempts.map(\.statusCode) == [500, 500, 200])
                let retries = try harness.metrics.expectCounter(
                    "fieldgate_delivery_attempts_total",
                    [("subscriber", "portal"), ("result", "retry")]
                )
                #expect(retries.totalValue == 2)
                // No jitter: 5 s after the first failure, 5 min after the second.
                guard case .retry(let first) = attempts[0].result, case .retry(let second) = attempts[1].result else {
                    Issue.record("expected retries")
                    return
                }
                #expect(first.millisecondsSinceEpoch - attempts[0].at.millisecondsSinceEpoch == 5_000)
                #expect(second.millisecondsSinceEpoch - attempts[1].at.millisecondsSinceEpoch == 300_000)
            }
        }
    }

    @Test func retryAfterIsHonoured() async throws {
        let receiver = Receiver { _, count in count == 1 ? (503, [("Retry-After", "3600")]) : (200, []) }
        try await receiver.serve { url in
            try await withHarness([Subscriber(id: "board", url: url)]) { harness in
                try await harness.accept(workOrder: "R1", code: 22)
                let delivery = try #require(
                    try await harness.running {
                        try await harness.waitUntil("board", count: 1, are: [.delivered])
                    }.first
                )
                let attempts = try await harness.store.attempts(deliveryID: delivery.id)
                guard case .retry(let retryAt) = attempts.first?.result else {
                    Issue.record("expected a retry")
                    return
                }
                #expect(retryAt.millisecondsSinceEpoch - attempts[0].at.millisecondsSinceEpoch == 3_600_000)
                #expect(attempts[1].at >= retryAt)
            }
        }
    }

    @Test func a410DisablesTheSubscriberAndTheDeliveryWaits() async throws {
        let receiver = Receiver { _, count in count == 1 ? (410, []) : (200, []) }
        try await receiver.serve { url in
            try await withHarness([Subscriber(id: "gone", url: url)]) { harness in
                try await harness.accept(workOrder: "G1", code: 22)
                try await harness.running {
                    for _ in 0..<1000 where receiver.received.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
                    for _ in 0..<1000 {
                        if try await harness.store.subscriber(id: "gone")?.enabled == false { break }
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    let subscriber = try #require(try await harness.store.subscriber(id: "gone"))
                    #expect(subscriber.enabled == false)
                    #expect(subscriber.disabledReason?.contains("410") == true)
                    // Disabled: nothing more is sent, however long we wait.
                    try await Task.sleep(for: .milliseconds(200))
                    #expect(receiver.received.count == 1)
                    let pending = try await harness.store.deliveries(DeliveryQuery(subscriberID: "gone")).items
                    #expect(pending.map(\.state) == [.pending])
                    // Enabled again, the waiting delivery goes out.
                    var enabled = subscriber
                    enabled.enabled = true
                    enabled.disabledReason = nil
                    try await harness.store.saveSubscriber(enabled)
                    harness.engine.wake()
                    _ = try await harness.waitUntil("gone", count: 1, are: [.delivered])
                }
            }
        }
    }

    @Test func aReceiverDownForTheWholeScheduleGetsADeadLetterThatCanBeRedelivered() async throws {
        // Nothing listens on this port: every attempt is refused.
        let down = "http://127.0.0.1:9/hook"
        try await withHarness([Subscriber(id: "down", url: down)]) { harness in
            try await harness.accept(workOrder: "D1", code: 22)
            let dead = try #require(
                try await harness.running {
                    try await harness.waitUntil("down", count: 1, are: [.dead])
                }.first
            )
            #expect(dead.attempts == 8)
            let attempts = try await harness.store.attempts(deliveryID: dead.id)
            #expect(attempts.map(\.result.name) == Array(repeating: "retry", count: 7) + ["dead"])
            // The whole default schedule ran: 5 s + 5 min + 30 min + 2 h + 5 h + 10 h + 10 h.
            let span = attempts.last!.at.millisecondsSinceEpoch - attempts.first!.at.millisecondsSinceEpoch
            #expect(span >= 99_305_000)

            let receiver = Receiver()
            try await receiver.serve { url in
                var moved = try #require(try await harness.store.subscriber(id: "down"))
                moved.url = url
                try await harness.store.saveSubscriber(moved)
                _ = try await harness.store.redeliver(id: dead.id, now: harness.engineClock.now())
                try await harness.running {
                    _ = try await harness.waitUntil("down", count: 1, are: [.delivered])
                }
                #expect(receiver.received.map(\.eventID) == [dead.eventID])
            }
        }
    }

    @Test func aSlowReceiverTimesOutAndIsRetried() async throws {
        let receiver = Receiver { _, count in
            if count == 1 { try? await Task.sleep(for: .seconds(2)) }
            return (200, [])
        }
        try await receiver.serve { url in
            try await withHarness([Subscriber(id: "slow", url: url, timeout: .seconds(1))]) { harness in
                try await harness.accept(workOrder: "S1", code: 22)
                let delivery = try #require(
                    try await harness.running {
                        try await harness.waitUntil("slow", count: 1, are: [.delivered])
                    }.first
                )
                let attempts = try await harness.store.attempts(deliveryID: delivery.id)
                expectTimedOutThenDelivered(attempts)
            }
        }
    }

    /// A receiver slower than the (virtual) lease: the engine claims the delivery again while the attempt is under
    /// way, and that attempt finishes before the engine looks at the claim. It must not be sent a second time.
    @Test func aClaimThatRacesAFinishingAttemptSendsNothingTwice() async throws {
        let receiver = Receiver { _, _ in
            try? await Task.sleep(for: .milliseconds(300))
            return (200, [])
        }
        try await receiver.serve { url in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let harness = try await DeliveryHarness(
                databasePath: directory.path("race.db"),
                subscribers: [Subscriber(id: "slow", url: url, timeout: .seconds(5))],
                engineStore: { LateClaimStore($0) }
            )
            try await harness.accept(workOrder: "R1", code: 22)
            let delivery = try #require(
                try await harness.running {
                    let delivered = try await harness.waitUntil("slow", count: 1, are: [.delivered])
                    // Room for a second send to arrive, were there one.
                    try await Task.sleep(for: .milliseconds(600))
                    return delivered
                }.first
            )
            #expect(receiver.received.count == 1)
            #expect(try await harness.store.attempts(deliveryID: delivery.id).map(\.result.name) == ["delivered"])
        }
    }

    @Test func eachJobStaysInOrderAndASlowJobHoldsBackNoOther() async throws {
        // The slow job's first delivery is answered only once all ten of the fast jobs have arrived (or after 10 s,
        // when they were held back behind it): whatever the machine's load, fast ones can finish first only if
        // the engine sends them while the slow one is in flight. (A fixed 150 ms per slow delivery raced the
        // fast ones on a loaded machine.)
        let fastArrived = Mutex(0)
        let receiver = Receiver { request, _ in
            if request.jobID == "slow-job" {
                let deadline = ContinuousClock.now + .seconds(10)
                while fastArrived.withLock({ $0 }) < 10, ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .milliseconds(10))
                }
            } else {
                fastArrived.withLock { $0 += 1 }
            }
            return (200, [])
        }
        try await receiver.serve { url in
            try await withHarness([Subscriber(id: "dispatch", url: url, maxConcurrency: 4)]) { harness in
                var accepted: [String: [String]] = [:]
                for step in 0..<5 {
                    for job in ["slow-job", "job-b", "job-c"] {
                        accepted[job, default: []].append(try await harness.accept(workOrder: job, code: 20 + step))
                    }
                }
                _ = try await harness.running {
                    try await harness.waitUntil("dispatch", count: 15, are: [.delivered])
                }
                let arrivals = receiver.received
                for (job, ids) in accepted {
                    #expect(arrivals.filter { $0.jobID == job }.map(\.eventID) == ids, "job \(job) out of order")
                }
                // The fast jobs finished while the slow one was still being delivered.
                let lastSlow = try #require(arrivals.lastIndex { $0.jobID == "slow-job" })
                let lastFast = try #require(arrivals.lastIndex { $0.jobID != "slow-job" })
                #expect(lastFast < lastSlow)
            }
        }
    }

    @Test func onlyMatchingSubscribersGetADelivery() async throws {
        try await withHarness([
            Subscriber(id: "all", url: "http://127.0.0.1:9/a", enabled: false),
            Subscriber(
                id: "dispatched",
                url: "http://127.0.0.1:9/b",
                filter: SubscriberFilter(statuses: ["dispatched"])
            ),
            Subscriber(id: "sites", url: "http://127.0.0.1:9/c", filter: SubscriberFilter(types: ["site.*"])),
            Subscriber(
                id: "jobs",
                url: "http://127.0.0.1:9/d",
                filter: SubscriberFilter(types: ["job.*"], tenants: ["cobalt-pos"])
            ),
        ]) { harness in
            try await harness.accept(workOrder: "M1", code: 22)
            try await harness.accept(workOrder: "M1", code: 70)
            func count(_ id: String) async throws -> Int {
                try await harness.store.deliveries(DeliveryQuery(subscriberID: id)).items.count
            }
            #expect(try await count("all") == 0)
            #expect(try await count("dispatched") == 1)
            #expect(try await count("sites") == 0)
            #expect(try await count("jobs") == 2)
        }
    }
}

@Suite("Signatures against the reference library")
struct ReferenceSignatureTests {
    /// Python's `standardwebhooks` (the Standard Webhooks reference library) verifies what a real receiver got.
    @Test func pythonStandardWebhooksVerifiesEveryDelivery() async throws {
        let receiver = Receiver()
        try await receiver.serve { url in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            // The library refuses timestamps more than 5 minutes from its own clock: sign with the real time.
            let harness = try await DeliveryHarness(
                databasePath: directory.path("reference.db"),
                subscribers: [Subscriber(id: "reference", url: url, secret: secret)],
                clock: VirtualDeliveryClock(SystemWallClock().now())
            )
            for index in 0..<3 { try await harness.accept(workOrder: "P\(index)", code: 22) }
            _ = try await harness.running { try await harness.waitUntil("reference", count: 3, are: [.delivered]) }
        }
        var input = ""
        for request in receiver.received {
            let line: JSONValue = .object([
                "secret": .string(secret),
                "headers": .object([
                    "webhook-id": .string(request.eventID),
                    "webhook-timestamp": .string(request.timestamp),
                    "webhook-signature": .string(request.signature),
                ]),
                "body": .string(Data(request.body).base64EncodedString()),
            ])
            input += line.jsonText + "\n"
        }
        let (status, output) = try runScript("scripts/verify-standard-webhooks.py", input: input)
        #expect(status == 0, "\(output)")
        #expect(output.contains("3 verified, 0 failed"), "\(output)")
    }
}

extension ReferenceSignatureTests {
    /// During a rotation's grace period every delivery carries both signatures, space-separated; the reference
    /// library verifies each with the old secret and with the new one. After it, only the new one signs.
    @Test func duringARotationBothSecretsVerifyAndAfterItOnlyTheNewOne() async throws {
        let old = secret
        let new = "whsec_c2VjcmV0LWFmdGVyLXJvdGF0aW9u"
        let receiver = Receiver()
        try await receiver.serve { url in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let now = SystemWallClock().now()
            let rotated = Subscriber(id: "rotating", url: url, secret: old)
                .rotatingSecret(to: new, at: now, gracePeriod: .seconds(86_400))
            let harness = try await DeliveryHarness(
                databasePath: directory.path("rotation.db"),
                subscribers: [rotated],
                clock: VirtualDeliveryClock(now)
            )
            for index in 0..<2 { try await harness.accept(workOrder: "K\(index)", code: 22) }
            _ = try await harness.running { try await harness.waitUntil("rotating", count: 2, are: [.delivered]) }
            #expect(receiver.received.allSatisfy { ($0.signature ?? "").split(separator: " ").count == 2 })
            var input = ""
            for request in receiver.received {
                for key in [old, new] {
                    let line: JSONValue = .object([
                        "secret": .string(key),
                        "headers": .object([
                            "webhook-id": .string(request.eventID),
                            "webhook-timestamp": .string(request.timestamp),
                            "webhook-signature": .string(request.signature),
                        ]),
                        "body": .string(Data(request.body).base64EncodedString()),
                    ])
                    input += line.jsonText + "\n"
                }
            }
            let (status, output) = try runScript("scripts/verify-standard-webhooks.py", input: input)
            #expect(status == 0, "\(output)")
            #expect(output.contains("4 verified, 0 failed"), "\(output)")

            // A day later the grace period is over: one signature, the new secret's.
            harness.engineClock.advance(by: .seconds(86_401))
            try await harness.accept(workOrder: "K9", code: 22)
            _ = try await harness.running { try await harness.waitUntil("rotating", count: 3, are: [.delivered]) }
            let last = try #require(receiver.received.last)
            let signer = try #require(WebhookSigner(secret: new))
            #expect(
                last.signature
                    == signer.signature(id: last.eventID, timestamp: Int64(last.timestamp) ?? 0, body: last.body)
            )
        }
    }
}

/// Runs a script of the repository with `input` on standard input; returns its exit status and output.
func runScript(_ path: String, input: String) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", RepositoryPaths.root.appendingPathComponent(path).path]
    let stdin = Pipe()
    let stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stdout
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

@Suite("Subscriber filters and retry policy")
struct SubscriberFilterTests {
    @Test(arguments: [
        ("job.*", "job.status_changed", true), ("*.created", "site.created", true), ("job.*", "site.created", false),
        ("*", "alert.triggered", true), ("job.status_changed", "job.status_changed", true),
        ("job.status", "job.status_changed", false), ("j*d", "job.created", true), ("", "job.created", false),
    ])
    func typeGlobs(_ pattern: String, _ type: String, _ matches: Bool) {
        var candidate = StoreSamples.candidate(content: "glob")
        candidate.event.type = EventType(rawValue: type)!
        #expect(SubscriberFilter(types: [pattern]).matches(candidate.event) == matches)
    }

    /// The published Standard Webhooks example: any library must produce this signature.
    @Test func theSignatureMatchesTheStandardWebhooksExample() throws {
        let signer = try #require(WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let signature = signer.signature(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1_614_265_330,
            body: Array(#"{"test": 2432232314}"#.utf8)
        )
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(WebhookSigner(secret: "not-a-secret") == nil)
    }
}
