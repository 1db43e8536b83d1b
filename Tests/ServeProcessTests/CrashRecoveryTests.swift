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

/// The real `fieldgate` binary, killed with SIGKILL under load: every request it answered 202 must survive.
@Suite("fieldgate serve as a process", .serialized)
struct CrashRecoveryTests {
    @Test func everyAcknowledgedEventSurvivesSIGKILLAndStaysADuplicate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let config = try ServeProcess.writeConfiguration(in: directory)
        let client = HTTPClient.shared

        let first = try await ServeProcess.start(config: config, directory: directory, log: "first.log")
        let acknowledged = Acknowledgements()
        // Eight concurrent senders; the server is killed once 150 requests are acknowledged. Bounded either way.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for sequence in 0..<250 {
                        let body = ServeProcess.statusChange(workOrder: "\(worker)-\(sequence)")
                        guard let answer = try? await ServeProcess.post(body, to: first.base, client: client) else {
                            return  // the server is gone
                        }
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
        let status = first.waitForExit()
        #expect(status == SIGKILL, "the first server must die by SIGKILL, not finish")
        let answered = acknowledged.all
        #expect(answered.count >= 150)

        let second = try await ServeProcess.start(config: config, directory: directory, log: "second.log")
        for (id, body) in answered {
            let stored = try await ServeProcess.get("/v1/events/\(id)", from: second.base, client: client)
            #expect(stored == 200, "event \(id) acknowledged before the crash is missing")
            let again = try await ServeProcess.post(body, to: second.base, client: client)
            #expect(again.status == 202)
            #expect(again.outcome == "duplicate", "event \(id) re-sent after the crash was not a duplicate")
            #expect(again.id == id)
        }
        // SIGTERM is a graceful stop: exit status 0.
        second.kill(signal: SIGTERM)
        #expect(second.waitForExit() == 0)
    }
}

extension CrashRecoveryTests {
    /// Deliveries pending when the server dies are sent after it restarts, each with the event's webhook-id.
    @Test func pendingDeliveriesSurviveSIGKILL() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let receiverUp = Mutex(false)
        let delivered = Mutex<Set<String>>([])
        let receiver = Receiver { request, _ in
            guard receiverUp.withLock({ $0 }) else { return (503, []) }
            delivered.withLock { _ = $0.insert(request.eventID) }
            return (200, [])
        }
        try await receiver.serve { url in
            let config = try ServeProcess.writeConfiguration(in: directory, subscriberURL: url)
            let client = HTTPClient.shared
            let first = try await ServeProcess.start(config: config, directory: directory, log: "first.log")
            var ids: [String] = []
            for index in 0..<30 {
                let answer = try await ServeProcess.post(
                    ServeProcess.statusChange(workOrder: "P\(index % 6)-\(index)"),
                    to: first.base,
                    client: client
                )
                #expect(answer.status == 202)
                if let id = answer.id { ids.append(id) }
            }
            // The receiver refuses everything while the server runs: the deliveries stay pending.
            for _ in 0..<500 where Set(receiver.received.map(\.eventID)).count < 6 {
                try await Task.sleep(for: .milliseconds(10))
            }
            first.kill(signal: SIGKILL)
            #expect(first.waitForExit() == SIGKILL)
            #expect(delivered.withLock { $0.isEmpty })

            receiverUp.withLock { $0 = true }
            let second = try await ServeProcess.start(config: config, directory: directory, log: "second.log")
            for _ in 0..<2000 where delivered.withLock({ $0 }) != Set(ids) {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(
                delivered.withLock { $0 } == Set(ids),
                "missing after restart: \(Set(ids).subtracting(delivered.withLock { $0 }))"
            )
            // Every request carried an event's own ID: repeats are the same event, never a new one.
            #expect(Set(receiver.received.map(\.eventID)) == Set(ids))
            second.kill(signal: SIGTERM)
            #expect(second.waitForExit() == 0)
        }
    }
}

/// Acknowledged requests, shared by the sending tasks.
final class Acknowledgements: Sendable {
    private let state = Mutex<[(String, [UInt8])]>([])
    func add(id: String, body: [UInt8]) { state.withLock { $0.append((id, body)) } }
    var count: Int { state.withLock { $0.count } }
    var all: [(String, [UInt8])] { state.withLock { $0 } }
}

/// One `fieldgate serve` child process on a free port.
struct ServeProcess: Sendable {
    let process: Process
    let base: String

    /// The built `fieldgate` next to this test bundle.
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("fieldgate")
    }

    /// A configuration for the TechLink tenant `cobalt-pos`; `storage` replaces the SQLite file in `directory`.
    static func writeConfiguration(
        in directory: TemporaryDirectory,
        storage: String? = nil,
        subscriberURL: String? = nil
    ) throws -> String {
        let path = directory.path("fieldgate.yaml")
        var yaml = """
            server: {host: 127.0.0.1, port: 0}
            storage: \(storage ?? "{sqlite: \(directory.path("crash.db"))}")
            admin: {token: crash-admin}
            delivery: {allowNetworks: [127.0.0.0/8]}
            tenants:
              - {vendor: techlink, tenant: cobalt-pos}

            """
        if let subscriberURL {
            yaml += """
                subscribers:
                  - {id: board, url: "\(subscriberURL)", timeout: 1s, retrySchedule: [\(Array(repeating: "1s", count: 20).joined(separator: ", "))]}

                """
        }
        try RepositoryPaths.write(Array(yaml.utf8), to: path)
        return path
    }

    static func start(config: String, directory: TemporaryDirectory, log: String) async throws -> ServeProcess {
        let output = directory.path(log)
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        _ = FileManager.default.createFile(atPath: output + ".err", contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", "--config", config, "--log-level", "warning"]
        process.currentDirectoryURL = directory.url
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory.path(log + ".err")))
        try process.run()
        let marker = "fieldgate listening on "
        for _ in 0..<600 {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            if let range = text.range(of: marker) {
                let base = text[range.upperBound...].prefix { !$0.isWhitespace }
                return ServeProcess(process: process, base: String(base))
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        let errors = (try? String(contentsOfFile: directory.path(log + ".err"), encoding: .utf8)) ?? ""
        throw TestSupportError("fieldgate serve did not start: \(errors)")
    }

    func kill(signal: Int32) {
        guard process.isRunning else { return }
        _ = Glibc.kill(process.processIdentifier, signal)
    }

    /// The exit status, or the signal that ended the process.
    func waitForExit() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }

    static func statusChange(workOrder: String) -> [UInt8] {
        Array(
            #"{"event":"work order status change","workorder_id":"\#(workOrder)","old_status_code":"20","new_status_code":"22"}"#
                .utf8
        )
    }

    struct Answer {
        var status: UInt
        var json: JSONValue?
        var text: String
        var contentType: String?
        var retryAfter: String?

        var outcome: String? { json?["status"]?.stringValue }
        var id: String? { json?["id"]?.stringValue }
        var code: String? { json?["code"]?.stringValue }
    }

    static func post(_ body: [UInt8], to base: String, client: HTTPClient) async throws -> Answer {
        var request = HTTPClientRequest(url: base + "/webhooks/techlink/cobalt-pos")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        return try await answer(request, client: client)
    }

    /// Sends a corpus line as a vendor would; the client frames the body, so `Content-Length` is its own.
    static func send(_ line: CorpusRequest, to base: String, client: HTTPClient) async throws -> Answer {
        var request = HTTPClientRequest(url: base + line.path)
        request.method = HTTPMethod(rawValue: line.method)
        for field in line.headers
        where !["Content-Length", "Host", "Transfer-Encoding"].contains(where: {
            field.name.equalsIgnoringASCIICase($0)
        }) {
            request.headers.add(name: field.name, value: field.value)
        }
        if !line.body.isEmpty { request.body = .bytes(ByteBuffer(bytes: line.body)) }
        return try await answer(request, client: client)
    }

    static func answer(_ request: HTTPClientRequest, client: HTTPClient) async throws -> Answer {
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        return Answer(
            status: response.status.code,
            json: try? JSONValue(parsing: bytes),
            text: String(decoding: bytes, as: UTF8.self),
            contentType: response.headers.first(name: "Content-Type"),
            retryAfter: response.headers.first(name: "Retry-After")
        )
    }

    static func get(
        _ path: String,
        from base: String,
        client: HTTPClient,
        token: String = "crash-admin"
    ) async throws -> UInt {
        var request = HTTPClientRequest(url: base + path)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await client.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 22)
        return response.status.code
    }

    static func getJSON(
        _ path: String,
        from base: String,
        client: HTTPClient,
        token: String = "crash-admin"
    ) async throws -> JSONValue? {
        var request = HTTPClientRequest(url: base + path)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await client.execute(request, timeout: .seconds(10))
        return try? JSONValue(parsing: Array(try await response.body.collect(upTo: 1 << 24).readableBytesView))
    }
}
