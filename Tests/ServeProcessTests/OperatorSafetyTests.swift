import AsyncHTTPClient
import FieldgateModel
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
