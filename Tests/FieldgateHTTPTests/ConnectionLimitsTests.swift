import FieldgateCore
import FieldgateHTTP
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import Foundation
import HummingbirdTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// CONTRACT §1 "Limits, timeouts and cost" and the framing rules, over real sockets with short limits: every
/// connection the server gives up on is answered with a problem document where an answer is due, and closed.
/// The assertions are about what the server does (the answer, the close), with bounds far above the limits.
@Suite("Connection limits over a socket", .serialized)
struct ConnectionLimitsTests {
    /// For the tests of the timeouts themselves.
    static let short = ConnectionLimits(
        requestTimeout: .milliseconds(500),
        idleTimeout: .milliseconds(800),
        maxConnections: 3,
        drainBytes: 1024
    )
    /// For everything else: long enough that a loaded machine never turns an answer into a 408.
    static let limits = ConnectionLimits(
        requestTimeout: .seconds(5),
        idleTimeout: .seconds(5),
        maxConnections: 3,
        drainBytes: 1024
    )

    /// Waits this long at most for anything the server should do within the limits above.
    static let patience: Duration = .seconds(10)

    func withServer(
        _ limits: ConnectionLimits = Self.limits,
        _ body: @Sendable (GatewayHarness, Int) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("limits.db"),
            connectionLimits: limits
        )
        try await harness.application.test(.live) { client in
            try await body(harness, try #require(client.port))
        }
    }

    static let event = #"{"event":"work order closed","workorder_id":"77"}"#

    static func request(
        tenant: String = "cobalt-pos",
        token: String? = nil,
        body: String = event,
        extraHeaders: String = "",
        contentLength: Int? = nil
    ) -> String {
        var head = "POST /webhooks/techlink/\(tenant) HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        if let token { head += "X-Token: \(token)\r\n" }
        head += "Content-Length: \(contentLength ?? body.utf8.count)\r\n" + extraHeaders + "\r\n"
        return head + body
    }

    // MARK: Deadlines

    @Test func aStalledHeadIsAnswered408AndClosed() async throws {
        try await withServer(Self.short) { _, port in
            let connection = try RawConnection(port: port)
            try connection.send("POST /webhooks/techlink/cobalt-pos HTTP/1.1\r\nHost: localhost\r\nContent-")
            let reply = await connection.readUntilClosed(within: Self.patience)
            #expect(reply.closed)
            let response = try #require(RawResponse(reply.bytes))
            #expect(response.status == 408)
            #expect(response.headers["content-type"] == "application/problem+json")
            #expect(try response.json["code"]?.stringValue == "request-timeout")
        }
    }

    @Test func aStalledBodyIsAnswered408AndNothingIsStored() async throws {
        try await withServer(Self.short) { harness, port in
            let connection = try RawConnection(port: port)
            let whole = Self.request()
            try connection.send(String(whole.dropLast(10)))
            let reply = await connection.readUntilClosed(within: Self.patience)
            #expect(reply.closed)
            #expect(RawResponse(reply.bytes)?.status == 408)
            #expect(try await harness.store.events(EventQuery()).items.isEmpty)
        }
    }

    /// The deadlines are not closes at once: a head that arrives whole within requestTimeout is served, however
    /// slowly its bytes came, and a keep-alive connection used again within idleTimeout stays open.
    @Test func aSlowButTimelyRequestAndAKeepAliveConnectionUsedAgainAreServed() async throws {
        let limits = ConnectionLimits(
            requestTimeout: .seconds(2),
            idleTimeout: .seconds(2),
            maxConnections: 3,
            drainBytes: 1024
        )
        try await withServer(limits) { _, port in
            let connection = try RawConnection(port: port)
            let whole = Self.request()
            try connection.send(String(whole.prefix(20)))
            try await Task.sleep(for: .milliseconds(300))
            try connection.send(String(whole.dropFirst(20)))
            #expect(await connection.readResponse(within: Self.patience)?.status == 202)
            try await Task.sleep(for: .milliseconds(300))
            try connection.send(Self.request())
            #expect(await connection.readResponse(within: Self.patience)?.status == 202)
        }
    }

    @Test func anIdleKeepAliveConnectionIsClosedWithoutAnAnswer() async throws {
        try await withServer(Self.short) { _, port in
            let connection = try RawConnection(port: port)
            try connection.send(Self.request())
            let first = try #require(await connection.readResponse(within: Self.patience))
            #expect(first.status == 202)
            // Nothing more is sent: the server closes the connection once it has been idle for idleTimeout.
            let rest = await connection.readUntilClosed(within: Self.patience)
            #expect(rest.closed)
            #expect(rest.bytes.isEmpty)
        }
    }

    // MARK: Credentials from the head

    /// The head declares a megabyte and carries a wrong token; not a byte of the body is sent. The answer comes
    /// anyway, so the decision was made from the head, before the body was waited for, let alone buffered.
    @Test func aRefusedCredentialIsAnsweredBeforeItsBodyAndTheConnectionCloses() async throws {
        try await withServer { harness, port in
            let connection = try RawConnection(port: port)
            let head = Self.request(tenant: "harbor-signs", token: "wrong", body: "", contentLength: 4000)
            try connection.send(head)
            let response = try #require(await connection.readResponse(within: Self.patience))
            #expect(response.status == 401)
            #expect(try response.json["code"]?.stringValue == "bad-credentials")
            // The declared body is more than this gateway drains for a refused request (1 KiB here): the
            // connection closes (well before the request deadline could have fired a 408).
            let rest = await connection.readUntilClosed(within: Self.patience)
            #expect(rest.closed)
            #expect(RawResponse(rest.bytes) == nil, "no second answer")
            #expect(try await harness.store.quarantinedRequests(QuarantineQuery()).items.isEmpty)
        }
    }

    @Test func aSmallRefusedBodyIsDrainedAndTheConnectionServesTheNextRequest() async throws {
        try await withServer { _, port in
            let connection = try RawConnection(port: port)
            try connection.send(Self.request(tenant: "nobody"))
            let refused = try #require(await connection.readResponse(within: Self.patience))
            #expect(refused.status == 401)
            try connection.send(Self.request())
            let accepted = try #require(await connection.readResponse(within: Self.patience))
            #expect(accepted.status == 202)
        }
    }

    @Test func aBodyDeclaredOverTheLimitIs413AndTheConnectionCloses() async throws {
        try await withServer { _, port in
            let connection = try RawConnection(port: port)
            try connection.send(Self.request(body: "", contentLength: 10_000_000))
            let response = try #require(await connection.readResponse(within: Self.patience))
            #expect(response.status == 413)
            #expect(await connection.readUntilClosed(within: Self.patience).closed)
        }
    }

    // MARK: Framing

    @Test(arguments: [
        ("Transfer-Encoding: chunked\r\n", 400, "bad-framing"),
        ("Content-Length: 7\r\n", 400, "bad-framing"),
        ("Content-Length: 4x\r\n", 400, "bad-framing"),
        ("Bad Header: x\r\n", 400, "bad-request"),
        ("X-Line: a\u{01}b\r\n", 400, "bad-request"),
        ("X-Big: " + String(repeating: "x", count: 70 * 1024) + "\r\n", 431, "headers-too-large"),
    ])
    func framingTheParserRefusesIsAProblemDocument(header: String, status: Int, code: String) async throws {
        try await withServer { harness, port in
            let connection = try RawConnection(port: port)
            try connection.send(Self.request(extraHeaders: header))
            let reply = await connection.readUntilClosed(within: Self.patience)
            #expect(reply.closed)
            let response = try #require(RawResponse(reply.bytes))
            #expect(response.status == status)
            #expect(response.headers["content-type"] == "application/problem+json")
            #expect(try response.json["code"]?.stringValue == code, "\(String(decoding: response.body, as: UTF8.self))")
            #expect(try await harness.store.events(EventQuery()).items.isEmpty)
        }
    }

    @Test func aRequestLineThatIsNotHTTPIsAProblemDocument() async throws {
        try await withServer { _, port in
            let connection = try RawConnection(port: port)
            try connection.send("HELLO THERE\r\n\r\n")
            let reply = await connection.readUntilClosed(within: Self.patience)
            let response = try #require(RawResponse(reply.bytes))
            #expect(response.status == 400)
            #expect(try response.json["code"]?.stringValue == "bad-request")
        }
    }

    @Test func aMalformedChunkInTheBodyIsAProblemDocumentAndNothingIsStored() async throws {
        try await withServer { harness, port in
            let connection = try RawConnection(port: port)
            var head = "POST /webhooks/techlink/cobalt-pos HTTP/1.1\r\nHost: localhost\r\n"
            head += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            try connection.send(head + "5\r\n{\"eve\r\nzz\r\n")
            let reply = await connection.readUntilClosed(within: Self.patience)
            let response = try #require(RawResponse(reply.bytes))
            #expect(response.status == 400)
            #expect(try response.json["code"]?.stringValue == "bad-framing")
            #expect(try await harness.store.events(EventQuery()).items.isEmpty)
            #expect(try await harness.store.quarantinedRequests(QuarantineQuery()).items.isEmpty)
        }
    }

    // MARK: Connection cap

    @Test func connectionsBeyondTheLimitAreRefusedAtOnceNotQueued() async throws {
        try await withServer { _, port in
            // Connections are opened and kept until one is refused (the test client may hold one of its own).
            var open: [RawConnection] = []
            var refusal: RawResponse?
            while refusal == nil && open.count <= Self.limits.maxConnections {
                let connection = try RawConnection(port: port)
                try connection.send(Self.request())
                let reply = await connection.readUntilResponseOrClose(within: Self.patience)
                let response = try #require(RawResponse(reply.bytes), "every connection is answered at once")
                if response.status == 503 {
                    #expect(reply.closed, "a refused connection is closed, not kept waiting")
                    refusal = response
                } else {
                    #expect(response.status == 202)
                    open.append(connection)
                }
            }
            let refused = try #require(refusal, "no connection was refused")
            #expect(open.count <= Self.limits.maxConnections)
            #expect(refused.headers["retry-after"] != nil)
            #expect(try refused.json["code"]?.stringValue == "too-many-connections")
            // The connections that were let in are still served; once one closes, a new one is served too.
            try open[open.count - 1].send(Self.request())
            #expect(await open[open.count - 1].readResponse(within: Self.patience)?.status == 202)
            open[0].close()
            var served = false
            for _ in 0..<50 where !served {
                let next = try RawConnection(port: port)
                try next.send(Self.request())
                served = await next.readResponse(within: Self.patience)?.status == 202
                if !served { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(served)
        }
    }
}

// MARK: - A blocking client on a raw socket

/// A TCP connection to the server on loopback that sends exactly the bytes it is given.
final class RawConnection: @unchecked Sendable {
    private var descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestSupportError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw TestSupportError("connect() failed: \(errno)") }
    }

    deinit { close() }

    func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let result = bytes[sent...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard result > 0 else { throw TestSupportError("send() failed: \(errno)") }
            sent += result
        }
    }

    /// Everything the server sends until it closes the connection, or until `within` has passed. The socket is
    /// read on a dispatch thread: blocking a thread of the cooperative pool would starve the server under test.
    func readUntilClosed(within limit: Duration) async -> (bytes: [UInt8], closed: Bool) {
        await Self.offThePool { self.blockingReadUntilClosed(within: limit) }
    }

    /// One response, read as far as its `Content-Length` says.
    func readResponse(within limit: Duration) async -> RawResponse? {
        await Self.offThePool { self.blockingReadResponse(within: limit) }
    }

    /// A response, or whatever arrived before the server closed the connection; with whether it closed.
    func readUntilResponseOrClose(within limit: Duration) async -> (bytes: [UInt8], closed: Bool) {
        await Self.offThePool {
            var bytes: [UInt8] = []
            let deadline = ContinuousClock.now + limit
            while ContinuousClock.now < deadline {
                if let response = RawResponse(bytes), response.status != 503 { return (bytes, false) }
                switch self.read(until: deadline) {
                case .bytes(let chunk): bytes += chunk
                case .closed: return (bytes, true)
                case .timedOut: return (bytes, false)
                }
            }
            return (bytes, false)
        }
    }

    static func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: work()) }
        }
    }

    private func blockingReadUntilClosed(within limit: Duration) -> (bytes: [UInt8], closed: Bool) {
        var bytes: [UInt8] = []
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            switch read(until: deadline) {
            case .bytes(let chunk): bytes += chunk
            case .closed: return (bytes, true)
            case .timedOut: return (bytes, false)
            }
        }
        return (bytes, false)
    }

    private func blockingReadResponse(within limit: Duration) -> RawResponse? {
        var bytes: [UInt8] = []
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let response = RawResponse(bytes) { return response }
            guard case .bytes(let chunk) = read(until: deadline) else { return RawResponse(bytes) }
            bytes += chunk
        }
        return nil
    }

    enum Read {
        case bytes([UInt8])
        case closed
        case timedOut
    }

    private func read(until deadline: ContinuousClock.Instant) -> Read {
        let remaining = max(deadline - ContinuousClock.now, .zero)
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(
            remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
        )
        guard poll(&poller, 1, milliseconds) > 0 else { return .timedOut }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        // A reset after the server's answer counts as the close it is.
        if count <= 0 { return .closed }
        return .bytes(Array(buffer[..<count]))
    }
}

/// An HTTP/1.1 response read off a socket: status, lowercased header names, the body its length says.
struct RawResponse: Equatable {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    init?(_ bytes: [UInt8]) {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines[0].split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces
            )
        }
        let length = headers["content-length"].flatMap { Int($0) } ?? 0
        let bodyStart = end + separator.count
        guard bytes.count >= bodyStart + length else { return nil }
        self.status = status
        self.headers = headers
        self.body = Array(bytes[bodyStart..<bodyStart + length])
    }

    var json: JSONValue {
        get throws { try JSONValue(parsing: body) }
    }
}
