import FieldgateModel
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization

import struct NIOCore.ByteBuffer

/// What a receiver saw: one entry per request, in arrival order.
package struct ReceivedRequest: Sendable {
    package var eventID: String
    package var timestamp: String
    package var signature: String?
    package var contentType: String?
    /// The `Host` header: the subscriber URL's host, wherever the connection was pinned.
    package var host: String?
    package var path: String
    package var body: [UInt8]
    package var jobID: String?
}

/// How a receiver answers one request.
package struct ReceiverAnswer: Sendable {
    package enum Body: Sendable {
        case empty
        case bytes([UInt8])
        /// Declares `declaredLength` bytes, sends `sent` of them, then sends nothing more until the receiver stops.
        case stall(declaredLength: Int, sent: Int)
    }

    package var status: Int
    package var headers: [(String, String)]
    package var body: Body

    package init(status: Int, headers: [(String, String)] = [], body: Body = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// A local webhook receiver (loopback only) whose answer to each request is decided by the test.
package final class Receiver: Sendable {
    package typealias Behaviour =
        @Sendable (_ request: ReceivedRequest, _ count: Int) async -> (Int, [(String, String)])
    package typealias Answering = @Sendable (_ request: ReceivedRequest, _ count: Int) async -> ReceiverAnswer
    private let log = Mutex<[ReceivedRequest]>([])
    /// Set once the test is done: stalled bodies end, so the receiver can stop.
    private let stopping = Mutex(false)
    let answering: Answering

    package init(_ behaviour: @escaping Behaviour = { _, _ in (200, []) }) {
        answering = { request, count in
            let (status, headers) = await behaviour(request, count)
            return ReceiverAnswer(status: status, headers: headers)
        }
    }

    package init(answering: @escaping Answering) {
        self.answering = answering
    }

    package var received: [ReceivedRequest] { log.withLock { $0 } }

    /// Runs the receiver on a free loopback port for the duration of `body`; `url` ends in `/hook`.
    package func serve<T: Sendable>(_ body: @escaping @Sendable (_ url: String) async throws -> T) async throws -> T {
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            var request = request
            let bytes = Array(try await request.collectBody(upTo: 1 << 20).readableBytesView)
            let event = try? JSONValue(parsing: bytes)
            let received = ReceivedRequest(
                eventID: request.headers[HTTPField.Name("webhook-id")!] ?? "",
                timestamp: request.headers[HTTPField.Name("webhook-timestamp")!] ?? "",
                signature: request.headers[HTTPField.Name("webhook-signature")!],
                contentType: request.headers[.contentType],
                host: request.head.authority ?? request.headers[HTTPField.Name("Host")!],
                path: request.uri.path,
                body: bytes,
                jobID: event?["subject"]?.stringValue
            )
            let count = self.log.withLock { log -> Int in
                log.append(received)
                return log.filter { $0.eventID == received.eventID }.count
            }
            let answer = await self.answering(received, count)
            var fields = HTTPFields()
            for (name, value) in answer.headers { fields[HTTPField.Name(name)!] = value }
            switch answer.body {
            case .empty:
                return Response(status: .init(code: answer.status), headers: fields)
            case .bytes(let bytes):
                return Response(
                    status: .init(code: answer.status),
                    headers: fields,
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
                )
            case .stall(let declaredLength, let sent):
                return Response(
                    status: .init(code: answer.status),
                    headers: fields,
                    body: ResponseBody(contentLength: declaredLength) { writer in
                        try await writer.write(ByteBuffer(repeating: UInt8(ascii: "x"), count: sent))
                        // Bounded: the test ends (or 30 s pass) and the connection is dropped unfinished.
                        for _ in 0..<1500 where !self.stopping.withLock({ $0 }) {
                            try await Task.sleep(for: .milliseconds(20))
                        }
                        throw CancellationError()
                    }
                )
            }
        }
        router.post("hook", use: handler)
        router.post("other", use: handler)
        var logger = Logger(label: "receiver")
        logger.logLevel = .critical
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: logger
        )
        return try await app.test(.live) { client in
            defer { self.stopping.withLock { $0 = true } }
            return try await body("http://127.0.0.1:\(client.port!)/hook")
        }
    }
}
