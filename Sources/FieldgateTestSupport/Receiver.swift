import FieldgateModel
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization

/// What a receiver saw: one entry per request, in arrival order.
package struct ReceivedRequest: Sendable {
    package var eventID: String
    package var timestamp: String
    package var signature: String?
    package var contentType: String?
    package var body: [UInt8]
    package var jobID: String?
}

/// A local webhook receiver whose answer to each request is decided by the test.
package final class Receiver: Sendable {
    package typealias Behaviour =
        @Sendable (_ request: ReceivedRequest, _ count: Int) async -> (Int, [(String, String)])
    private let log = Mutex<[ReceivedRequest]>([])
    let behaviour: Behaviour

    package init(_ behaviour: @escaping Behaviour = { _, _ in (200, []) }) {
        self.behaviour = behaviour
    }

    package var received: [ReceivedRequest] { log.withLock { $0 } }

    /// Runs the receiver on a free port for the duration of `body`.
    package func serve<T: Sendable>(_ body: @escaping @Sendable (_ url: String) async throws -> T) async throws -> T {
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
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: logger
        )
        return try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)/hook")
        }
    }
}
