import Hummingbird

/// The framework ceiling: every POST's body is read and answered 202 with a small JSON body, nothing else.
/// `BareHummingbird [port]`; used by scripts/performance-table.sh beside nginx and `fieldgate serve`.
@main
struct BareHummingbird {
    static func main() async throws {
        let port = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 18_700
        let router = Router()
        router.post("**") { request, _ -> Response in
            var request = request
            _ = try await request.collectBody(upTo: 1 << 20)
            return Response(
                status: .accepted,
                headers: [.contentType: "application/json"],
                body: ResponseBody(
                    byteBuffer: ByteBuffer(string: #"{"status":"accepted","id":"00000000000000000000000000000000"}"#)
                )
            )
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        try await app.runService()
    }
}
