import AsyncHTTPClient
import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import Foundation
import NIOHTTP1
import Synchronization
import Testing

import struct NIOCore.ByteBuffer

#if canImport(Glibc)
import Glibc
#endif

/// CONTRACT §8 with real processes: two `fieldgate serve` instances on one PostgreSQL database (a private server
/// the tests start), behind no balancer — the tests choose the instance for each request, which is the worst a
/// balancer can do.
@Suite(
    "Several instances on one PostgreSQL database",
    .serialized,
    .enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipComment)
)
struct ScaleOutTests {
    /// Two instances on one database, stopped (SIGTERM) after `body`; each has its own working folder.
    func withTwoInstances(
        database: String,
        yaml: String? = nil,
        subscriberURL: String? = nil,
        _ body: (ServeProcess, ServeProcess, TemporaryDirectory) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let config: String
        if let yaml {
            config = directory.path("fieldgate.yaml")
            try RepositoryPaths.write(Array(yaml.utf8), to: config)
        } else {
            config = try ServeProcess.writeConfiguration(
                in: directory,
                storage: "{postgres: \"\(database)\"}",
                subscriberURL: subscriberURL
            )
        }
        let first = try await ServeProcess.start(config: config, directory: directory, log: "a.log")
        defer { first.kill(signal: SIGKILL) }
        let second = try await ServeProcess.start(config: config, directory: directory, log: "b.log")
        defer { second.kill(signal: SIGKILL) }
        try await body(first, second, directory)
        for instance in [first, second] where instance.process.isRunning {
            instance.kill(signal: SIGTERM)
            #expect(instance.waitForExit() == 0, "an instance did not stop cleanly on SIGTERM")
        }
    }

    @Test func theDevCorpusSplitAcrossTwoInstancesMeetsEveryExpectation() async throws {
        let corpus = try DevCorpus()
        let database = try await PostgresTestServer.shared().makeDatabase()
        // The corpus's own configuration, on the shared database and free ports.
        let yaml = corpus.configurationYAML.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            if line.hasPrefix("server:") { return "server: {host: 127.0.0.1, port: 0, maxBodyBytes: 1048576}" }
            if line.hasPrefix("storage:") { return "storage: {postgres: \"\(database)\"}" }
            return String(line)
        }.joined(separator: "\n")
        try await withTwoInstances(database: database, yaml: yaml) { first, second, _ in
            let client = HTTPClient.shared
            var acceptedByLine: [Int: (id: String, instance: Int)] = [:]
            var duplicatesAcrossInstances = 0
            for (index, line) in corpus.lines.enumerated() {
                let number = index + 1
                let request = try CorpusRequest(line: line)
                let expected = try #require(CorpusExpectation(note: request.note ?? ""))
                let instance = index % 2
                let answer = try await ServeProcess.send(request, to: [first, second][instance].base, client: client)
                guard answer.status == expected.http else {
                    Issue.record("line \(number) [expect \(expected)]: HTTP \(answer.status) \(answer.text)")
                    continue
                }
                if expected.http != 202 {
                    #expect(answer.contentType == "application/problem+json", "line \(number)")
                    if let codes = expected.problemCodes {
                        #expect(
                            codes.contains(answer.json?["code"]?.stringValue ?? ""),
                            "line \(number): \(answer.text)"
                        )
                    }
                } else if let original = expected.duplicateOfLine {
                    #expect(answer.json?["status"]?.stringValue == "duplicate", "line \(number): \(answer.text)")
                    #expect(answer.json?["id"]?.stringValue == acceptedByLine[original]?.id, "line \(number)")
                    if acceptedByLine[original]?.instance != instance { duplicatesAcrossInstances += 1 }
                } else {
                    #expect(answer.json?["status"]?.stringValue == "accepted", "line \(number): \(answer.text)")
                    if let id = answer.json?["id"]?.stringValue { acceptedByLine[number] = (id, instance) }
                }
            }
            #expect(acceptedByLine.count == 123)
            #expect(duplicatesAcrossInstances > 0, "the split put no duplicate on the other instance")
            // Both instances see one store: every accepted event, listed and readable from either.
            for instance in [first, second] {
                let listed = try await ServeProcess.getJSON(
                    "/v1/events?limit=500",
                    from: instance.base,
                    client: client,
                    token: "dev-admin-token"
                )
                #expect(listed?["events"]?.arrayValue?.count == 123)
            }
            for (line, accepted) in acceptedByLine {
                let other = [first, second][1 - accepted.instance]
                let status = try await ServeProcess.get(
                    "/v1/events/\(accepted.id)",
                    from: other.base,
                    client: client,
                    token: "dev-admin-token"
                )
                #expect(status == 200, "line \(line)'s event is not readable from the other instance")
            }
            let quarantined = try await ServeProcess.getJSON(
                "/v1/quarantine?limit=500",
                from: second.base,
                client: client,
                token: "dev-admin-token"
            )
            let expectedQuarantine = try corpus.lines.filter { line in
                [400, 415, 422].contains(CorpusExpectation(note: try CorpusRequest(line: line).note ?? "")?.http ?? 0)
            }.count
            #expect(quarantined?["requests"]?.arrayValue?.count == expectedQuarantine)
        }
    }

    @Test func everyRequestAcknowledgedByAnInstanceKilledUnderLoadIsReadableFromTheOther() async throws {
        let database = try await PostgresTestServer.shared().makeDatabase()
        try await withTwoInstances(database: database) { first, second, _ in
            let client = HTTPClient.shared
            let acknowledged = Acknowledgements()
            // Eight senders, half on each instance; the first is killed once 150 requests are acknowledged.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    let target = worker % 2 == 0 ? first : second
                    group.addTask {
                        for sequence in 0..<120 {
                            let body = ServeProcess.statusChange(workOrder: "K\(worker)-\(sequence)")
                            guard let answer = try? await ServeProcess.post(body, to: target.base, client: client)
                            else { return }  // the killed instance
                            if answer.status == 202, let id = answer.id { acknowledged.add(id: id, body: body) }
                        }
                    }
                }
                group.addTask {
                    while acknowledged.count < 150 { try await Task.sleep(for: .milliseconds(5)) }
                    first.kill(signal: SIGKILL)
                }
                try await group.waitForAll()
            }
            #expect(first.waitForExit() == SIGKILL)
            let answered = acknowledged.all
            #expect(answered.count >= 150)
            for (id, body) in answered {
                #expect(try await ServeProcess.get("/v1/events/\(id)", from: second.base, client: client) == 200)
                let again = try await ServeProcess.post(body, to: second.base, client: client)
                #expect(again.outcome == "duplicate", "event \(id) sent again to the survivor was not a duplicate")
                #expect(again.id == id)
            }
        }
    }

    @Test func deliveriesFromBothInstancesArriveOncePerEventInEachJobsOrder() async throws {
        let database = try await PostgresTestServer.shared().makeDatabase()
        // A receiver that takes a moment per request: each instance has deliveries in flight while the other claims.
        let receiver = Receiver { _, _ in
            try? await Task.sleep(for: .milliseconds(10))
            return (200, [])
        }
        try await receiver.serve { url in
            try await withTwoInstances(database: database, subscriberURL: url) { first, second, _ in
                let client = HTTPClient.shared
                let jobs = 12
                let perJob = 6
                // Each job's events go to alternating instances, one after another (acceptance order = send order);
                // the jobs run concurrently.
                let accepted = try await withThrowingTaskGroup(of: (String, [String]).self) { group in
                    for job in 0..<jobs {
                        group.addTask {
                            var ids: [String] = []
                            for step in 0..<perJob {
                                let target = (job + step) % 2 == 0 ? first : second
                                let body = Array(
                                    #"{"event":"work order status change","workorder_id":"D\#(job)","new_status_code":"\#(20 + step)"}"#
                                        .utf8
                                )
                                let answer = try await ServeProcess.post(body, to: target.base, client: client)
                                #expect(answer.status == 202)
                                if let id = answer.id { ids.append(id) }
                            }
                            return ("D\(job)", ids)
                        }
                    }
                    return try await group.reduce(into: [String: [String]]()) { $0[$1.0] = $1.1 }
                }
                let all = Set(accepted.values.joined())
                #expect(all.count == jobs * perJob)
                for _ in 0..<2000 where Set(receiver.received.map(\.eventID)) != all {
                    try await Task.sleep(for: .milliseconds(10))
                }
                let received = receiver.received
                #expect(Set(received.map(\.eventID)) == all)
                // Every receiver answered 200: exactly one request per event, whichever instance sent it.
                #expect(received.count == all.count, "some events were delivered more than once")
                for (job, ids) in accepted {
                    let order = received.filter { $0.jobID == job }.map(\.eventID)
                    #expect(order == ids, "job \(job) arrived out of order")
                }
                // Both instances sent: each counts its own attempts, and together they made exactly one per event.
                let byFirst = try await Self.deliveryAttempts(of: first, client: client)
                let bySecond = try await Self.deliveryAttempts(of: second, client: client)
                #expect(
                    byFirst > 0 && bySecond > 0,
                    "only one instance delivered (\(byFirst) and \(bySecond) attempts)"
                )
                #expect(byFirst + bySecond == all.count)
            }
        }
    }

    /// The delivery attempts an instance made, from its `/metrics` (`fieldgate_delivery_attempts_total`, summed
    /// over subscribers and results).
    static func deliveryAttempts(of instance: ServeProcess, client: HTTPClient) async throws -> Int {
        let response = try await client.execute(
            HTTPClientRequest(url: instance.base + "/metrics"),
            timeout: .seconds(10)
        )
        let text = String(decoding: try await response.body.collect(upTo: 1 << 22).readableBytesView, as: UTF8.self)
        return text.split(separator: "\n").filter { $0.hasPrefix("fieldgate_delivery_attempts_total") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            .reduce(0) { $0 + Int($1) }
    }

    @Test func anEventAcceptedByOneInstanceAppearsOnTheOtherInstancesLiveStream() async throws {
        let database = try await PostgresTestServer.shared().makeDatabase()
        try await withTwoInstances(database: database) { first, second, _ in
            var request = HTTPClientRequest(url: second.base + "/v1/stream")
            request.headers.add(name: "Authorization", value: "Bearer crash-admin")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            #expect(response.status == .ok)
            var iterator = response.body.makeAsyncIterator()
            var text = ""
            // The stream is open once its first comment arrives; events from then on are followed.
            while !text.contains(": fieldgate live stream") {
                guard let chunk = try await iterator.next() else { break }
                text += String(buffer: chunk)
            }
            let posted = ContinuousClock.now
            let answer = try await ServeProcess.post(
                ServeProcess.statusChange(workOrder: "streamed-across"),
                to: first.base,
                client: HTTPClient.shared
            )
            let id = try #require(answer.id)
            while !text.contains("id: \(id)") {
                guard let chunk = try await iterator.next() else { break }
                text += String(buffer: chunk)
            }
            #expect(text.contains("id: \(id)\nevent: job.status_changed\ndata: {"))
            // Woken by A's NOTIFY, not found by B's next keep-alive round (15 s): the bound is far above a
            // NOTIFY's round trip on a loaded machine and far below the keep-alive.
            let waited = ContinuousClock.now - posted
            #expect(waited < .seconds(5), "the event reached B's stream after \(waited), not by a wake-up")
        }
    }
}

extension ScaleOutTests {
    /// An installation on SQLite moves with `fieldgate store copy`; the gateway on PostgreSQL then answers the
    /// vendors' retries as duplicates and serves the old events.
    @Test func aSingleGatewayMovedWithStoreCopyKeepsItsEvents() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let client = HTTPClient.shared
        let sqlite = try ServeProcess.writeConfiguration(in: directory)
        let single = try await ServeProcess.start(config: sqlite, directory: directory, log: "single.log")
        var sent: [(String, [UInt8])] = []
        for index in 0..<25 {
            let body = ServeProcess.statusChange(workOrder: "M\(index % 5)-\(index)")
            let answer = try await ServeProcess.post(body, to: single.base, client: client)
            if let id = answer.id { sent.append((id, body)) }
        }
        single.kill(signal: SIGTERM)
        #expect(single.waitForExit() == 0)

        let database = try await PostgresTestServer.shared().makeDatabase()
        let copy = Process()
        copy.executableURL = ServeProcess.executable
        copy.arguments = ["store", "copy", "--from", "sqlite:\(directory.path("crash.db"))", "--to", database]
        let output = Pipe()
        copy.standardOutput = output
        copy.standardError = FileHandle.nullDevice
        try copy.run()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        copy.waitUntilExit()
        #expect(copy.terminationStatus == 0, "store copy failed: \(report)")
        #expect(report.contains("the stores match"))
        #expect(report.contains("events                25           25  yes"), "\(report)")

        let postgres = try ServeProcess.writeConfiguration(in: directory, storage: "{postgres: \"\(database)\"}")
        let moved = try await ServeProcess.start(config: postgres, directory: directory, log: "moved.log")
        defer { moved.kill(signal: SIGKILL) }
        for (id, body) in sent {
            #expect(try await ServeProcess.get("/v1/events/\(id)", from: moved.base, client: client) == 200)
            let again = try await ServeProcess.post(body, to: moved.base, client: client)
            #expect(again.outcome == "duplicate" && again.id == id)
        }
        moved.kill(signal: SIGTERM)
        #expect(moved.waitForExit() == 0)
    }
}

/// PostgreSQL stopped and started again under load, on a server of the test's own.
@Suite(
    "PostgreSQL restarted under a live gateway",
    .serialized,
    .enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipComment)
)
struct DatabaseRestartTests {
    @Test func whileThePostgreSQLServerRestartsIngestAnswers503AndNothingAcknowledgedIsLost() async throws {
        try await PostgresTestServer.withPrivateServer { server in try await restartUnderLoad(server) }
    }

    func restartUnderLoad(_ server: PostgresTestServer) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let config = try ServeProcess.writeConfiguration(
            in: directory,
            storage: "{postgres: \"\(server.url(database: "postgres"))\"}"
        )
        let gateway = try await ServeProcess.start(config: config, directory: directory, log: "gateway.log")
        defer { gateway.kill(signal: SIGKILL) }
        let client = HTTPClient.shared
        let acknowledged = Acknowledgements()
        let refused = Acknowledgements()
        let phase = Counter()  // 0 before the stop, 1 while down, 2 after the restart, 3 done
        let acknowledgedAfterRestart = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var sequence = 0
                    while phase.value < 3, !Task.isCancelled {
                        sequence += 1
                        let body = ServeProcess.statusChange(workOrder: "R\(worker)-\(sequence)")
                        let answer: ServeProcess.Answer
                        do {
                            answer = try await ServeProcess.post(body, to: gateway.base, client: client)
                        } catch {
                            // Every request gets an answer (202 or 503) within the gateway's bounds; none is a defect.
                            Issue.record("no answer while the database restarted: \(error)")
                            continue
                        }
                        switch answer.status {
                        case 202:
                            if let id = answer.id { acknowledged.add(id: id, body: body) }
                            if phase.value == 2 { acknowledgedAfterRestart.increment() }
                        case 503:
                            #expect(answer.retryAfter != nil, "a 503 without Retry-After")
                            #expect(answer.code == "store-unavailable" || answer.code == "store-overloaded")
                            refused.add(id: "", body: body)
                        default:
                            Issue.record("HTTP \(answer.status) while the database restarted")
                        }
                        if answer.status == 503 { try await Task.sleep(for: .milliseconds(20)) }
                    }
                }
            }
            group.addTask {
                while acknowledged.count < 100 { try await Task.sleep(for: .milliseconds(5)) }
                try await server.stop(immediately: true)
                phase.value = 1
                while refused.count < 8 { try await Task.sleep(for: .milliseconds(5)) }
                #expect(try await ServeProcess.get("/readyz", from: gateway.base, client: client) == 503)
                try await server.restart()
                phase.value = 2
                while acknowledgedAfterRestart.value < 100 { try await Task.sleep(for: .milliseconds(5)) }
                #expect(try await ServeProcess.get("/readyz", from: gateway.base, client: client) == 200)
                phase.value = 3
            }
            try await group.waitForAll()
        }
        #expect(refused.count >= 8)
        // Nothing acknowledged is lost; nothing refused was half-stored: sent again, each is new or a duplicate.
        for (id, body) in acknowledged.all {
            #expect(try await ServeProcess.get("/v1/events/\(id)", from: gateway.base, client: client) == 200)
            let again = try await ServeProcess.post(body, to: gateway.base, client: client)
            #expect(again.outcome == "duplicate" && again.id == id, "acknowledged event \(id) is not stored")
        }
        for (_, body) in refused.all {
            let again = try await ServeProcess.post(body, to: gateway.base, client: client)
            #expect(again.status == 202, "a request refused during the restart is not accepted afterwards")
        }
        gateway.kill(signal: SIGTERM)
        #expect(gateway.waitForExit() == 0)
    }
}

/// A number several tasks read and change.
final class Counter: Sendable {
    private let state = Mutex(0)
    var value: Int {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
    func increment() { state.withLock { $0 += 1 } }
}
