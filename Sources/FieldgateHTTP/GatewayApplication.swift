package import FieldgateConsole
package import FieldgateCore
import FieldgateModel
package import Hummingbird
package import Logging
package import ServiceLifecycle

package import struct NIOCore.ByteBuffer
package import protocol NIOCore.Channel

/// Everything the HTTP application needs, built by the composition root (`fieldgate serve`) or a test.
///
/// Each part is passed as itself: the routes get the store and the clock they use, not a pipeline to reach
/// into.
package struct GatewayDependencies: Sendable {
    /// Ingest: `/webhooks/…` requests and quarantine replay.
    package var pipeline: IngestPipeline
    /// Events, quarantine, readiness, the live stream and the purge: the store the pipeline writes to.
    package var store: any EventStore
    package var clock: any WallClock
    package var adminToken: String?
    package var metrics: GatewayMetrics
    package var logger: Logger
    /// Subscribers and the outbox, when the store keeps them: enables `/v1/subscribers` and `/v1/deliveries`.
    package var deliveries: (any DeliveryStore)?
    /// Wakes the delivery engine after an admin change made deliveries due.
    package var wakeDeliveries: @Sendable () -> Void
    /// The store's commit announcements: the live streams wait on them.
    package var changes: StoreChanges
    /// `delivery:` of the configuration: the bounds and the network policy subscribers are checked against.
    package var delivery: GatewayConfiguration.Delivery
    /// Counts every ingest outcome in memory; `IngestCountFlush` (a service of the composition root) stores them.
    package var tally: IngestTally
    /// Mounts the operator console at `/console` when set.
    package var console: ConsoleOptions?
    /// Request deadline, idle timeout, connection cap (`server:` in fieldgate.yaml).
    package var connectionLimits: ConnectionLimits

    package init(
        pipeline: IngestPipeline,
        store: any EventStore,
        clock: any WallClock,
        adminToken: String?,
        metrics: GatewayMetrics,
        logger: Logger,
        deliveries: (any DeliveryStore)? = nil,
        wakeDeliveries: @escaping @Sendable () -> Void = {},
        changes: StoreChanges = StoreChanges(),
        delivery: GatewayConfiguration.Delivery = GatewayConfiguration.Delivery(),
        tally: IngestTally = IngestTally(),
        console: ConsoleOptions? = nil,
        connectionLimits: ConnectionLimits = ConnectionLimits()
    ) {
        self.pipeline = pipeline
        self.store = store
        self.clock = clock
        self.adminToken = adminToken
        self.metrics = metrics
        self.logger = logger
        self.deliveries = deliveries
        self.wakeDeliveries = wakeDeliveries
        self.changes = changes
        self.delivery = delivery
        self.tally = tally
        self.console = console
        self.connectionLimits = connectionLimits
    }
}

/// The gateway's routes: ingest (CONTRACT §1), the admin API, health, metrics and the OpenAPI document.
package func buildRouter(_ dependencies: GatewayDependencies) -> Router<BasicRequestContext> {
    // A path that answers GET answers HEAD too (RFC 9110 §9.1), the same response without its body.
    let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.add(middleware: RequestLogMiddleware())
    router.add(middleware: ProblemMiddleware())
    router.add(
        middleware: IngestMiddleware(
            pipeline: dependencies.pipeline,
            clock: dependencies.clock,
            metrics: dependencies.metrics,
            tally: dependencies.tally
        )
    )

    router.get("healthz") { _, _ in Response.json(#"{"status":"ok"}"#.utf8.map { $0 }) }
    router.get("readyz") { _, context in
        do {
            try await dependencies.store.checkWritable()
            return Response.json(#"{"status":"ready","store":"writable"}"#.utf8.map { $0 })
        } catch {
            // The cause goes to the log only: /readyz answers anyone, and database errors name paths and internals.
            context.logger.error("readiness check failed", metadata: ["error": "\(error)"])
            dependencies.metrics.countStoreError(operation: "readiness")
            return Problem.storeUnavailable("the event store does not take writes; the gateway's log says why")
                .response
        }
    }
    router.get("metrics") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: dependencies.metrics.exposition()))
        )
    }
    router.get("openapi.yaml") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "application/yaml"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.served))
        )
    }

    let admin = router.group("v1").add(middleware: AdminAuthMiddleware(token: dependencies.adminToken))
    AdminRoutes(store: dependencies.store, pipeline: dependencies.pipeline).register(on: admin)
    let stream = EventStream(
        store: dependencies.store,
        changes: dependencies.changes,
        vendors: dependencies.pipeline.vendors
    )
    admin.get("stream") { request, _ in try await stream.response(request) }
    if let deliveries = dependencies.deliveries {
        DeliveryRoutes(
            store: deliveries,
            clock: dependencies.clock,
            delivery: dependencies.delivery,
            wake: dependencies.wakeDeliveries
        )
        .register(on: admin)
    }
    if let options = dependencies.console {
        Console(
            ConsoleDependencies(
                pipeline: dependencies.pipeline,
                store: dependencies.store,
                clock: dependencies.clock,
                deliveries: dependencies.deliveries,
                counts: options.counts,
                tally: dependencies.tally,
                adminToken: dependencies.adminToken,
                configuration: options.configuration,
                adapters: options.adapters,
                publicURL: options.publicURL,
                liveStream: { request in try await stream.response(request) },
                wakeDeliveries: dependencies.wakeDeliveries,
                logger: dependencies.logger
            )
        )
        .register(on: router)
    }
    // Last, so that it sees only what no route answered: a known path under a method it does not declare is 405.
    router.add(middleware: MethodNotAllowedMiddleware(allowed: AllowedMethods(router)))
    return router
}

/// The gateway as a Hummingbird application with the background services the composition root passes (the
/// delivery engine, retention).
///
/// `runService()` on the result serves until SIGTERM or SIGINT, then stops accepting connections and lets
/// in-flight requests finish, so nothing that was acknowledged is cut off.
package func buildApplication(
    _ dependencies: GatewayDependencies,
    configuration: ApplicationConfiguration,
    services: [any Service] = [],
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(dependencies),
        server: .gateway(dependencies.connectionLimits, logger: dependencies.logger),
        configuration: configuration,
        services: services,
        onServerRunning: onServerRunning,
        logger: dependencies.logger
    )
}

/// Logs one line per request with structured metadata: never headers or bodies, which may carry secrets.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(GatewayMetrics.nanoseconds(elapsed)) / 1_000_000
        context.logger.log(
            level: response.status.code >= 500 ? .error : .debug,
            "request",
            metadata: [
                "http.method": "\(request.method.rawValue)",
                "http.path": "\(request.uri.path)",
                "http.status": "\(response.status.code)",
                "duration.ms": "\(milliseconds)",
            ]
        )
        return response
    }
}
