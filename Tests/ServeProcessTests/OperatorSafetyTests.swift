import AsyncHTTPClient
import FieldgateCore
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import Foundation
import NIOHTTP1
import Testing

import struct NIOCore.ByteBuffer

#if canImport(Glibc)
import Glibc
#endif

/// What an operator (or an attacker with the admin token) can do to the real process without bringing it down.
@Suite("fieldgate serve: operator safety", .serialized)
struct OperatorSafetyTests {
    @Test func absurdDurationsAreRefusedAndTheProcessStaysUp() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let config = try ServeProcess.writeConfiguration(in: directory)
        let server = try await ServeProcess.start(config: config, directory: directory, log: "bounds.log")
        defer { server.kill(signal: SIGKILL) }
        for (timeout, status) in [("99999999999999999w", 422), ("16000w", 422), ("1e9s", 400)] {
            let answer = try await ServeProcess.admin(
                "/v1/subscribers",
                method: .POST,
                json: #"{"id":"absurd","url":"http://example.invalid/hook","timeout":"\#(timeout)"}"#,
                to: server.base
            )
            #expect(answer.status == status, "\(timeout)")
        }
        let health = try await ServeProcess.admin("/healthz", to: server.base)
        #expect(health.status == 200)
        let listed = try await ServeProcess.admin("/v1/subscribers", to: server.base)
        #expect(listed.json?["subscribers"]?.arrayValue == [])
        server.kill(signal: SIGTERM)
        #expect(server.waitForExit() == 0)
    }
}

extension OperatorSafetyTests {
    /// With no fieldgate.yaml the demo configuration runs: on loopback only, and it says so.
    @Test func theDemoBindsLoopbackOnlyAndSaysSo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try await ServeProcess.start(
            arguments: ["serve", "--port", "0"],
            directory: directory,
            log: "demo.log"
        )
        defer { server.kill(signal: SIGKILL) }
        #expect(server.base.hasPrefix("http://127.0.0.1:"))
        let banner = (try? String(contentsOfFile: directory.path("demo.log"), encoding: .utf8)) ?? ""
        #expect(banner.contains("demo:     bound to 127.0.0.1 only (loopback)"))
        #expect(try await ServeProcess.admin("/readyz", to: server.base).json?["store"]?.stringValue == "writable")
        server.kill(signal: SIGTERM)
        #expect(server.waitForExit() == 0)
    }

    /// The demo's admin token is public: on any address but loopback the gateway refuses to start, before it
    /// listens or opens its store.
    @Test(arguments: [["--host", "0.0.0.0"], ["--host", "::"], ["--host", "10.0.0.1"]])
    func theDemoTokenRefusesAnyOtherAddress(host: [String]) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outcome = try ServeProcess.runToExit(["serve", "--port", "0"] + host, directory: directory)
        #expect(outcome.status == 2)
        #expect(outcome.errors.contains("refusing to listen on \(host[1]) with the demo admin token"))
        #expect(!FileManager.default.fileExists(atPath: directory.path("fieldgate.db")))
        // A configuration of its own that reuses the demo token is refused the same way.
        let config = directory.path("fieldgate.yaml")
        try RepositoryPaths.write(
            Array("server: {host: 0.0.0.0, port: 0}\nadmin: {token: demo-admin-token}\n".utf8),
            to: config
        )
        let own = try ServeProcess.runToExit(["serve", "--config", config], directory: directory)
        #expect(own.status == 2)
        #expect(own.errors.contains("demo admin token"))
    }

    /// SIGTERM with a delivery stuck on a blackholed receiver and a live stream open: the stream is closed, the
    /// process is gone within server.shutdownTimeout (plus the cancellation), and the delivery's lease is given
    /// back, no attempt counted, so it goes out again at once after a restart.
    @Test func gracefulShutdownIsBoundedReleasesDeliveriesAndClosesStreams() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let blackhole = try Blackhole()
        defer { blackhole.close() }
        let database = directory.path("shutdown.db")
        let config = directory.path("fieldgate.yaml")
        try RepositoryPaths.write(
            Array(
                """
                server: {host: 127.0.0.1, port: 0, shutdownTimeout: 2s}
                storage: {sqlite: \(database)}
                admin: {token: crash-admin}
                delivery: {allowNetworks: [127.0.0.0/8]}
                tenants:
                  - {vendor: techlink, tenant: cobalt-pos}
                subscribers:
                  - {id: stuck, url: "\(blackhole.url)", timeout: 60s}

                """.utf8
            ),
            to: config
        )
        let server = try await ServeProcess.start(config: config, directory: directory, log: "shutdown.log")
        defer { server.kill(signal: SIGKILL) }
        let accepted = try await ServeProcess.post(
            ServeProcess.statusChange(workOrder: "stuck-1"),
            to: server.base,
            client: HTTPClient.shared
        )
        #expect(accepted.status == 202)
        var request = HTTPClientRequest(url: server.base + "/v1/stream")
        request.headers.add(name: "Authorization", value: "Bearer crash-admin")
        let stream = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        #expect(stream.status == .ok)
        // Let the attempt reach the blackhole.
        try await Task.sleep(for: .milliseconds(500))
        let stopping = ContinuousClock.now
        server.kill(signal: SIGTERM)
        var streamed = 0
        do {
            for try await chunk in stream.body { streamed += chunk.readableBytes }
        } catch {
            // A stream cut at shutdown ends with an error or cleanly; either way it ends.
        }
        let status = server.waitForExit()
        let took = ContinuousClock.now - stopping
        #expect(streamed > 0)
        #expect(took < .seconds(15), "shutdown took \(took)")
        #expect(status == 0)

        let store = try SQLiteEventStore(path: database)
        let claimable = try await store.claimDueDeliveries(
            now: SystemWallClock().now(),
            leaseMargin: .seconds(5),
            limit: 10,
            inFlight: [:],
            paused: []
        )
        #expect(claimable.map(\.subscriber.id) == ["stuck"], "the lease was not released")
        #expect(claimable.first?.delivery.attempts == 0)
    }
}

extension ServeProcess {
    /// Starts `fieldgate` with `arguments` in `directory` and waits for its listening line.
    static func start(arguments: [String], directory: TemporaryDirectory, log: String) async throws -> ServeProcess {
        let output = directory.path(log)
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        _ = FileManager.default.createFile(atPath: output + ".err", contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments + ["--log-level", "warning"]
        process.currentDirectoryURL = directory.url
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: output + ".err"))
        try process.run()
        for _ in 0..<600 {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            if let range = text.range(of: "fieldgate listening on ") {
                return ServeProcess(
                    process: process,
                    base: String(text[range.upperBound...].prefix { !$0.isWhitespace })
                )
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw TestSupportError(
            "fieldgate did not start: \((try? String(contentsOfFile: output + ".err", encoding: .utf8)) ?? "")"
        )
    }

    /// Runs `fieldgate` with `arguments` until it exits (bounded: it is killed after 30 s).
    static func runToExit(
        _ arguments: [String],
        directory: TemporaryDirectory
    ) throws -> (status: Int32, errors: String) {
        let errors = directory.path("exit.err")
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory.url
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")
    }
}

extension ServeProcess {
    struct AdminAnswer {
        var status: UInt
        var json: JSONValue?
        var text: String
    }

    static func admin(
        _ path: String,
        method: HTTPMethod = .GET,
        json: String? = nil,
        token: String = "crash-admin",
        to base: String
    ) async throws -> AdminAnswer {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = Array(try await response.body.collect(upTo: 1 << 22).readableBytesView)
        return AdminAnswer(
            status: response.status.code,
            json: try? JSONValue(parsing: bytes),
            text: String(decoding: bytes, as: UTF8.self)
        )
    }
}
