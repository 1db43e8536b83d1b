import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import TechLinkAdapter
import Testing

@testable import FieldgateHTTP

/// CONTRACT §1 "credentials from the head": a refused request's body is never read, so nothing is buffered or
/// reserved for the length it declares. The ingest middleware is handed a body that counts every read; a refused
/// credential answers without one, and the admitted twin shows the count would have seen a read.
@Suite("Refused bodies are never read")
struct RefusedBodyTests {
    /// A request body that counts how often it is asked for its next chunk.
    struct CountedBody: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let bytes: [UInt8]
        let reads: Reads

        final class Reads: Sendable {
            let count = Mutex(0)
        }

        struct AsyncIterator: AsyncIteratorProtocol {
            let bytes: [UInt8]
            let reads: Reads
            var sent = false

            mutating func next() async throws -> ByteBuffer? {
                reads.count.withLock { $0 += 1 }
                if sent { return nil }
                sent = true
                return ByteBuffer(bytes: bytes)
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes, reads: reads) }
    }

    static let body = Array(#"{"event":"work order closed","workorder_id":"77"}"#.utf8)

    /// Sends one request through the ingest middleware; the answer and how often the body was read.
    func send(tenant: String, token: String?, declaredLength: Int) async throws -> (HTTPResponse.Status, Int) {
        let harness = try PipelineHarness(configurationYAML: adminTestConfiguration, adapters: [TechLinkAdapter()])
        let middleware = IngestMiddleware<BasicRequestContext>(
            pipeline: harness.pipeline,
            clock: harness.clock,
            metrics: GatewayMetrics(),
            tally: IngestTally()
        )
        var head = HTTPRequest(
            method: .post,
            scheme: "http",
            authority: "localhost",
            path: "/webhooks/techlink/\(tenant)"
        )
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = "\(declaredLength)"
        if let token { head.headerFields[HTTPField.Name("X-Token")!] = token }
        let reads = CountedBody.Reads()
        let request = Request(head: head, body: RequestBody(asyncSequence: CountedBody(bytes: Self.body, reads: reads)))
        let context = BasicRequestContext(
            source: ApplicationRequestContextSource(channel: EmbeddedChannel(), logger: Logger(label: "test"))
        )
        let response = try await middleware.handle(request, context: context) { _, _ in
            Issue.record("an ingest route was passed on")
            return Response(status: .notFound)
        }
        return (response.status, reads.count.withLock { $0 })
    }

    @Test(arguments: [("harbor-signs", "wrong"), ("harbor-signs", nil), ("nobody", nil)] as [(String, String?)])
    func aRefusedRequestIsAnsweredWithoutReadingItsBody(tenant: String, token: String?) async throws {
        // It declares the largest body this configuration takes (maxBodyBytes 4096): none of it is waited for.
        let (status, reads) = try await send(tenant: tenant, token: token, declaredLength: 4096)
        #expect(status == .unauthorized || status == .notFound, "\(status)")
        #expect(reads == 0, "the body of a refused request was read")
    }

    @Test func anAdmittedRequestIsReadToItsEnd() async throws {
        let (status, reads) = try await send(tenant: "harbor-signs", token: "hs-token", declaredLength: Self.body.count)
        #expect(status == .accepted)
        #expect(reads == 2, "one chunk, then the end")
    }
}
