import FieldgateCore
import FieldgateHTTP
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import FieldgateVendors
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging

import struct NIOCore.ByteBuffer

/// A gateway on a real SQLite file with a manual clock, as `fieldgate serve` builds it.
struct GatewayHarness: Sendable {
    static let adapters: [any VendorAdapter] = BuiltInVendors.adapters
    static let adminToken = "test-admin-token"

    let store: SQLiteEventStore
    let clock: ManualWallClock
    let dependencies: GatewayDependencies

    init(
        configurationYAML: String,
        databasePath: String,
        adapters: [any VendorAdapter] = Self.adapters,
        adminToken: String? = Self.adminToken,
        clock: ManualWallClock = ManualWallClock(StoreSamples.start),
        connectionLimits: ConnectionLimits = ConnectionLimits(),
        commitQueue: CommitQueueLimits = CommitQueueLimits()
    ) throws {
        let configuration = try GatewayConfiguration.parse(yaml: configurationYAML)
        let metrics = GatewayMetrics()
        store = try SQLiteEventStore(path: databasePath, commitQueue: commitQueue) {
            metrics.recordCommitBatch(size: $0)
        }
        self.clock = clock
        var logger = Logger(label: "fieldgate-test")
        logger.logLevel = .warning
        dependencies = GatewayDependencies(
            pipeline: IngestPipeline(
                directory: try TenantDirectory(configuration: configuration, adapters: adapters),
                store: store,
                clock: clock,
                maxBodyBytes: configuration.server.maxBodyBytes
            ),
            store: store,
            clock: clock,
            adminToken: adminToken,
            metrics: metrics,
            logger: logger,
            deliveries: store,
            changes: store.changes,
            delivery: configuration.delivery,
            connectionLimits: connectionLimits
        )
    }

    var application: some ApplicationProtocol {
        buildApplication(
            dependencies,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0))
        )
    }
}

extension TestClientProtocol {
    /// Sends a corpus request as a vendor would; the client frames the body, so `Content-Length` is its own.
    func send(_ request: CorpusRequest) async throws -> TestResponse {
        var headers = HTTPFields()
        for field in request.headers where !field.name.equalsIgnoringASCIICase("Content-Length") {
            headers.append(HTTPField(name: HTTPField.Name(field.name)!, value: field.value))
        }
        return try await execute(
            uri: request.path,
            method: HTTPRequest.Method(request.method)!,
            headers: headers,
            body: request.body.isEmpty ? nil : ByteBuffer(bytes: request.body)
        )
    }

    func admin(
        _ uri: String,
        method: HTTPRequest.Method = .get,
        token: String? = GatewayHarness.adminToken,
        json: String? = nil
    ) async throws -> TestResponse {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    var json: JSONValue {
        get throws { try JSONValue(parsing: Array(body.readableBytesView)) }
    }

    var text: String { String(buffer: body) }
}

extension JSONValue {
    var numberText: String? {
        if case .number(let text) = self { return text }
        return nil
    }
}
