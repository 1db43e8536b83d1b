import FieldgateCore
import FieldgateLoad
import FieldgateModel
import FieldgateTestSupport
import FieldgateVendors
import Synchronization
import Testing

@Suite("Replay report and schedule")
struct ReplayReportTests {
    @Test func countsOutcomesStatusesAndRate() {
        var report = ReplayReport()
        report.record(status: 202, outcome: "accepted", latency: .milliseconds(2))
        report.record(status: 202, outcome: "accepted", latency: .milliseconds(4))
        report.record(status: 202, outcome: "duplicate", latency: .milliseconds(6))
        report.record(status: 401, outcome: nil, latency: .milliseconds(8))
        report.recordFailure(latency: .milliseconds(1000))
        report.elapsed = .milliseconds(2500)
        #expect(report.sent == 5)
        #expect((report.accepted, report.duplicate, report.rejected, report.failed) == (2, 1, 1, 1))
        #expect(report.statusCounts == [202: 3, 401: 1])
        #expect(report.requestsPerSecond == 2)
        // HdrHistogram with three significant digits: within 0.1 %.
        #expect(abs(report.milliseconds(atPercentile: 50) - 6) < 0.01)
        #expect(abs(report.maximumMilliseconds - 1000) < 1)
        let json = report.json
        #expect(json["requestsPerSecond"] == .number("2"))
        #expect(json["outcomes"]?["duplicate"] == .number("1"))
        #expect(json["status"]?["401"] == .number("1"))
        #expect(report.text.contains("accepted: 2  duplicate: 1  rejected: 1"))
    }

    @Test func mergingAddsEverything() {
        var a = ReplayReport()
        a.record(status: 202, outcome: "accepted", latency: .milliseconds(1))
        var b = ReplayReport()
        b.record(status: 500, outcome: nil, latency: .milliseconds(3))
        a.merge(b)
        #expect(a.sent == 2)
        #expect(abs(a.maximumMilliseconds - 3) < 0.01)
        #expect(a.statusCounts == [202: 1, 500: 1])
    }

    @Test func theOpenLoopScheduleIsFixedInAdvance() {
        let schedule = OpenLoopSchedule(rate: 400)
        #expect(schedule.offset(of: 0) == .zero)
        #expect(schedule.offset(of: 1) == .microseconds(2500))
        #expect(schedule.offset(of: 400) == .seconds(1))
        #expect(schedule.count(in: .seconds(3)) == 1200)
        #expect(OpenLoopSchedule(rate: 3).offset(of: 1) == .nanoseconds(333_333_333))
    }
}

@Suite("Replay against a receiver", .serialized)
struct ReplayRunTests {
    static func requests(_ count: Int) throws -> [CorpusRequest] {
        try (0..<count).map { index in
            try CorpusRequest(
                line:
                    #"{"method":"POST","path":"/hook","headers":{"Content-Type":"application/json"},"body":"{\"event\":\"work order status change\",\"workorder_id\":\"\#(index)\"}"}"#
            )
        }
    }

    @Test func aClosedLoopSendsEveryPassAndVariesIDsAfterTheFirst() async throws {
        let bodies = Mutex<[String]>([])
        let recording = Receiver { request, _ in
            bodies.withLock { $0.append(String(decoding: request.body, as: UTF8.self)) }
            return (202, [])
        }
        try await recording.serve { url in
            var options = Replay.Options(target: String(url.dropLast("/hook".count)))
            options.load = .closed(concurrency: 4)
            options.repeatCount = 3
            options.varyIDs = true
            let report = try await Replay(requests: try Self.requests(5), options: options).run()
            #expect(report.sent == 15)
            #expect(report.statusCounts == [202: 15])
            #expect(report.failed == 0)
        }
        let seen = Set(bodies.withLock { $0 })
        #expect(seen.count == 15, "each pass must rewrite the IDs")
        #expect(seen.contains(#"{"event":"work order status change","workorder_id":"3-r2"}"#))
    }

    @Test func anOpenLoopSendsOnScheduleForItsDuration() async throws {
        let receiver = Receiver()
        try await receiver.serve { url in
            var options = Replay.Options(target: String(url.dropLast("/hook".count)))
            options.load = .open(rate: 200, maximumInFlight: 64)
            options.duration = .milliseconds(500)
            let started = ContinuousClock.now
            let report = try await Replay(requests: try Self.requests(3), options: options).run()
            #expect(report.sent == 100)
            // The last request was scheduled at 495 ms: the run cannot have ended before it.
            #expect(ContinuousClock.now - started >= .milliseconds(495))
        }
        #expect(receiver.received.count == 100)
    }

    /// With fewer connections than the schedule needs, due requests wait for one; the wait is latency (counted
    /// from when each request was due), not fewer requests.
    @Test func anOpenLoopBeyondItsConnectionsQueuesAndCountsTheWait() async throws {
        let slow = Receiver { _, _ in
            try? await Task.sleep(for: .milliseconds(40))
            return (202, [])
        }
        try await slow.serve { url in
            var options = Replay.Options(target: String(url.dropLast("/hook".count)))
            options.load = .open(rate: 100, maximumInFlight: 1)
            options.duration = .milliseconds(200)
            let report = try await Replay(requests: try Self.requests(2), options: options).run()
            #expect(report.sent == 20)
            #expect(report.statusCounts == [202: 20])
            // One connection answers every 40 ms while requests fall due every 10 ms: the last waits ~600 ms.
            #expect(report.milliseconds(atPercentile: 100) > 400)
        }
        #expect(slow.received.count == 20)
    }

    @Test(arguments: [
        ("http://127.0.0.1:8080", "127.0.0.1", 8080, ""),
        ("http://gateway.internal/prefix/", "gateway.internal", 80, "/prefix"),
    ])
    func targetsAreHostPortAndBasePath(url: String, host: String, port: Int, base: String) throws {
        let target = try ReplayTarget(url)
        #expect(target.host == host)
        #expect(target.port == port)
        #expect(target.basePath == base)
    }

    @Test(arguments: ["https://127.0.0.1:8443", "127.0.0.1:8080", "http://:8080", "http://host:99999"])
    func otherTargetsAreRefusedWithAReason(url: String) {
        #expect(throws: ReplayTargetError.self) { try ReplayTarget(url) }
    }

    @Test func aRefusedConnectionIsCountedNotFatal() async throws {
        var options = Replay.Options(target: "http://127.0.0.1:9")
        options.load = .closed(concurrency: 2)
        options.timeout = .seconds(2)
        let report = try await Replay(requests: try Self.requests(4), options: options).run()
        #expect(report.sent == 4)
        #expect(report.failed == 4)
    }
}

@Suite("Corpus generator")
struct CorpusGeneratorTests {
    static func generate(events: Int, seed: UInt64) throws -> [String] {
        let seedCorpus = try DevCorpus().lines.map { try CorpusRequest(line: $0) }
        let generator = try #require(CorpusGenerator(seed: seedCorpus, options: .init(events: events, seed: seed)))
        var lines: [String] = []
        generator.generate { lines.append($0.jsonLine) }
        return lines
    }

    @Test func theSameSeedGivesTheSameCorpusAndAnotherSeedAnother() throws {
        let first = try Self.generate(events: 500, seed: 42)
        #expect(first.count == 500)
        #expect(try Self.generate(events: 500, seed: 42) == first)
        #expect(try Self.generate(events: 500, seed: 43) != first)
        // A longer corpus with the same seed starts the same way: it is a stream.
        #expect(Array(try Self.generate(events: 800, seed: 42).prefix(500)) == first)
    }

    /// Every generated line's note is what the real pipeline answers: new events, retries, bad inputs.
    @Test func everyGeneratedNoteIsTrue() async throws {
        let corpus = try DevCorpus()
        let harness = try PipelineHarness(
            configurationYAML: corpus.configurationYAML,
            adapters: BuiltInVendors.adapters
        )
        var normalizer = CorpusNormalizer(pipeline: harness.pipeline)
        let lines = try Self.generate(events: 1500, seed: 9)
        var duplicates = 0
        var bad = 0
        for (index, line) in lines.enumerated() {
            let request = try CorpusRequest(line: line)
            let expected = try #require(CorpusExpectation(note: request.note ?? ""))
            let result = try await normalizer.normalize(line: index + 1, request: request)
            #expect(result.outcome.httpStatus == expected.http, "line \(index + 1): \(request.note ?? "")")
            if let original = expected.duplicateOfLine {
                duplicates += 1
                #expect(result.duplicateOf == original, "line \(index + 1)")
            } else if expected.http == 202 {
                #expect(result.outcome.isAccepted, "line \(index + 1) should be a new event")
            } else {
                bad += 1
            }
        }
        // About 5 % retries and 2 % bad inputs by default.
        #expect((30...120).contains(duplicates))
        #expect((10...60).contains(bad))
    }
}
