import ArgumentParser
import FieldgateConsole
import FieldgateCore
import FieldgateDelivery
import FieldgateHTTP
import FieldgateModel
import FieldgatePostgres
import FieldgateSQLite
import FieldgateVendors
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

import class Foundation.FileManager
import class Foundation.ProcessInfo

#if canImport(Glibc)
import Glibc
#endif

/// `fieldgate serve`: the gateway over HTTP on the embedded SQLite store.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive vendor webhooks over HTTP, store their canonical events durably and serve the admin API.",
        discussion: """
            Without --config, ./fieldgate.yaml is used if it exists, otherwise a built-in demo configuration \
            (one tenant per vendor, admin token 'demo-admin-token'; see README), which listens on loopback \
            only: with the demo token, --host other than loopback is refused. Events, dedupe keys and \
            quarantined requests go to the SQLite file named by storage.sqlite (default ./fieldgate.db); a \
            request is answered 202 only after its event is on disk; retention: deletes what is older.

            Routes: POST /webhooks/{vendor}/{tenant}/… (ingest), /v1/… (admin API, bearer admin.token), \
            /console (the operator console; sign in with admin.token), GET /healthz, /readyz, /metrics, \
            /openapi.yaml. SIGTERM or SIGINT stops accepting connections and lets requests and deliveries in \
            flight finish for at most server.shutdownTimeout (default 30s).

            With storage: {postgres: URL} any number of instances share one PostgreSQL database behind a load \
            balancer (docs/DEPLOYMENT.md); the schema is migrated at start.
            """
    )

    @Option(name: .shortAndLong, help: "The gateway configuration (default: ./fieldgate.yaml, else the demo).")
    var config: String?

    @Option(help: "Listen on this address instead of server.host.")
    var host: String?

    @Option(help: "Listen on this port instead of server.port (0 picks a free port).")
    var port: Int?

    @Option(help: ArgumentHelp("Use this SQLite file instead of the configured storage.", valueName: "path"))
    var database: String?

    @Option(help: "Seconds to wait at start for a PostgreSQL store that is not reachable yet.")
    var waitForStore: Int = 30

    @Option(
        help: ArgumentHelp(
            "The address vendors reach the gateway at (the TLS terminator in front of it): the console's Tenants page shows route URLs there.",
            valueName: "url"
        )
    )
    var publicURL: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "fieldgate")

        let (configuration, source) = try loadConfiguration()
        let host = host ?? configuration.server.host
        let port = port ?? configuration.server.port
        // The demo's admin token is printed in the README: an admin API anyone can reach must not accept it.
        if configuration.adminToken == DemoConfiguration.adminToken, !Self.isLoopback(host) {
            printError(
                "fieldgate: refusing to listen on \(host) with the demo admin token '\(DemoConfiguration.adminToken)', "
                    + "which is public; listen on 127.0.0.1 or ::1, or write a fieldgate.yaml with an admin.token "
                    + "of your own (see README)"
            )
            throw ExitCode(2)
        }
        let directory: TenantDirectory
        do {
            directory = try TenantDirectory(configuration: configuration, adapters: BuiltInVendors.adapters)
        } catch {
            printError("fieldgate: \(error)")
            throw ExitCode(2)
        }

        let metrics = GatewayMetrics()
        if let database {
            try await serve(
                sqlite: database,
                configuration,
                source: source,
                directory: directory,
                host: host,
                port: port,
                metrics,
                logger
            )
            return
        }
        switch configuration.storage {
        case .sqlite(let path):
            try await serve(
                sqlite: path,
                configuration,
                source: source,
                directory: directory,
                host: host,
                port: port,
                metrics,
                logger
            )
        case .postgres(let text):
            let url: PostgresURL
            do {
                url = try PostgresURL(parsing: text)
            } catch {
                printError("fieldgate: \(error)")
                throw ExitCode(2)
            }
            let store: PostgresEventStore
            do {
                store = try PostgresEventStore(url: url, logger: logger) { metrics.recordCommitBatch(size: $0) }
            } catch {
                printError("fieldgate: cannot set up the PostgreSQL store \(url): \(error)")
                throw ExitCode(2)
            }
            // The pool, the group committers and LISTEN run beside the application and stop after it: requests
            // in flight at shutdown still reach the database.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await store.run() }
                defer { group.cancelAll() }
                try await prepare(store, logger: logger)
                try await serve(
                    store: store,
                    description: "postgres \(url)",
                    configuration,
                    source: source,
                    directory: directory,
                    host: host,
                    port: port,
                    metrics,
                    logger
                )
            }
        }
    }

    func serve(
        sqlite path: String,
        _ configuration: GatewayConfiguration,
        source: String?,
        directory: TenantDirectory,
        host: String,
        port: Int,
        _ metrics: GatewayMetrics,
        _ logger: Logger
    ) async throws {
        let store: SQLiteEventStore
        do {
            store = try SQLiteEventStore(path: path) { metrics.recordCommitBatch(size: $0) }
        } catch {
            printError("fieldgate: cannot open the SQLite store '\(path)': \(error)")
            throw ExitCode(2)
        }
        try await serve(
            store: store,
            description: "sqlite \(path)",
            configuration,
            source: source,
            directory: directory,
            host: host,
            port: port,
            metrics,
            logger
        )
    }

    /// Migrates the PostgreSQL schema, waiting up to `--wait-for-store` for a database that is still starting.
    func prepare(_ store: PostgresEventStore, logger: Logger) async throws {
        let deadline = ContinuousClock.now + .seconds(waitForStore)
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await store.prepare()
                return
            } catch  where PostgresFailure.isUnreachable(error) && ContinuousClock.now < deadline {
                if attempt == 1 || attempt % 10 == 0 {
                    logger.warning(
                        "PostgreSQL is not reachable yet; retrying",
                        metadata: ["store": "\(store.url)", "error": "\(error)"]
                    )
                }
                try await Task.sleep(for: .seconds(1))
            } catch {
                printError("fieldgate: cannot prepare the PostgreSQL store \(store.url): \(error)")
                throw ExitCode(2)
            }
        }
    }

    func serve<Store: EventStore & DeliveryStore & StoreChangeAnnouncing & IngestCountStore>(
        store: Store,
        description: String,
        _ configuration: GatewayConfiguration,
        source: String?,
        directory: TenantDirectory,
        host: String,
        port: Int,
        _ metrics: GatewayMetrics,
        _ logger: Logger
    ) async throws {
        do {
            let removed = try await store.applyConfiguredSubscribers(
                configuration.subscribers.map(\.subscriber),
                at: SystemWallClock().now()
            )
            for id in removed {
                logger.notice("subscriber removed from the configuration: disabled", metadata: ["subscriber": "\(id)"])
            }
        } catch {
            printError("fieldgate: cannot store the configured subscribers: \(error)")
            throw ExitCode(2)
        }
        let clock = SystemWallClock()
        var engineConfiguration = DeliveryEngine.Configuration()
        engineConfiguration.maximumConcurrency = configuration.delivery.maxConcurrency
        engineConfiguration.networkPolicy = configuration.delivery.networkPolicy
        engineConfiguration.disableAfter = configuration.delivery.disableAfter
        let engine = DeliveryEngine(
            store: store,
            clock: clock,
            logger: logger,
            configuration: engineConfiguration,
            metrics: metrics.factory,
            changes: store.changes
        )
        let pipeline = IngestPipeline(
            directory: directory,
            store: store,
            clock: clock,
            maxBodyBytes: configuration.server.maxBodyBytes
        )
        let tally = IngestTally()
        let publicURL: PublicURL?
        do {
            publicURL = try self.publicURL.map { try PublicURL($0) }
        } catch {
            printError("fieldgate: \(error)")
            throw ExitCode(2)
        }
        let dependencies = GatewayDependencies(
            pipeline: pipeline,
            store: store,
            clock: clock,
            adminToken: configuration.adminToken,
            metrics: metrics,
            logger: logger,
            deliveries: store,
            wakeDeliveries: { engine.wake() },
            changes: store.changes,
            delivery: configuration.delivery,
            tally: tally,
            console: ConsoleOptions(
                configuration: configuration,
                adapters: BuiltInVendors.adapters,
                publicURL: publicURL,
                counts: store
            ),
            connectionLimits: ConnectionLimits(configuration.server)
        )
        if configuration.adminToken == nil {
            logger.warning("admin.token is not set: the /v1 admin API answers 401 to every request")
        }
        let demo = source == nil
        let app = buildApplication(
            dependencies,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "fieldgate"),
            services: [
                engine,
                BacklogGauges(store: store, clock: clock, metrics: metrics.factory, logger: logger),
                RetentionService(
                    events: store,
                    deliveries: store,
                    clock: clock,
                    retention: configuration.retention,
                    logger: logger,
                    onPass: { metrics.recordRetention($0) }
                ),
                IngestCountFlush(tally: tally, store: store, clock: clock, logger: logger),
            ]
        ) { channel in
            let boundPort = channel.localAddress?.port ?? port
            let base = "http://\(host):\(boundPort)"
            var lines = [
                "fieldgate listening on \(base)",
                "  config:   \(source ?? "built-in demo configuration (no ./fieldgate.yaml)")",
                "  store:    \(description)",
                "  tenants:  \(configuration.tenants.map { "\($0.vendor)/\($0.tenant)" }.joined(separator: ", "))",
            ]
            if demo {
                lines.insert(
                    "  demo:     bound to \(host) only (loopback): its admin token is public, so it refuses any "
                        + "other address",
                    at: 3
                )
                lines += [
                    "Send a sample event:",
                    "  curl -sS -X POST \(base)/webhooks/techlink/demo-techlink -H 'Content-Type: application/json' "
                        + #"-d '{"event":"work order status change","workorder_id":"1001","old_status_code":"20","#
                        + #""old_status":"Open","new_status_code":"22","new_status":"Dispatched"}'"#,
                    "Read it back:",
                    "  curl -sS -H 'Authorization: Bearer demo-admin-token' \(base)/v1/jobs/techlink:demo-techlink:1001",
                ]
            }
            printOutput(lines.joined(separator: "\n"))
        }
        // SIGTERM or SIGINT: stop accepting, let requests and deliveries in flight finish for at most
        // server.shutdownTimeout, then cancel what is left (deliveries give their leases back for another attempt).
        var group = ServiceGroupConfiguration(
            services: [app],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        group.maximumGracefulShutdownDuration = configuration.server.shutdownTimeout
        group.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
        logger.info("fieldgate stopped")
    }

    /// The configuration and the file it came from (nil for the demo).
    func loadConfiguration() throws -> (GatewayConfiguration, String?) {
        let environment = ProcessInfo.processInfo.environment
        do {
            if let config {
                return (try GatewayConfiguration.load(path: config, environment: environment), config)
            }
            if FileManager.default.fileExists(atPath: "fieldgate.yaml") {
                return (
                    try GatewayConfiguration.load(path: "fieldgate.yaml", environment: environment), "fieldgate.yaml"
                )
            }
            return (try GatewayConfiguration.parse(yaml: DemoConfiguration.yaml, file: "<demo>"), nil)
        } catch {
            printError("fieldgate: \(error)")
            throw ExitCode(2)
        }
    }
}

extension Serve {
    /// Whether `host` can only be reached from this machine.
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        guard case .v4(let address)? = IPAddress(literal: host) else { return false }
        return address >> 24 == 127
    }
}

/// Standard output, flushed at once: the listening line is what scripts and tests wait for.
func printOutput(_ text: String) {
    writeAll(STDOUT_FILENO, Array((text + "\n").utf8))
}

/// What `fieldgate serve` runs with when there is no `fieldgate.yaml`: one tenant per vendor, documented in the
/// README, so the quick start works on a fresh clone.
enum DemoConfiguration {
    static let adminToken = "demo-admin-token"

    static let yaml = """
        server: {host: 127.0.0.1, port: 8080, maxBodyBytes: 1048576}
        storage: {sqlite: fieldgate.db}
        admin: {token: demo-admin-token}
        # The demo's subscribers may be receivers on this machine; other private ranges stay refused.
        delivery: {allowNetworks: [127.0.0.0/8, "::1/128"]}
        tenants:
          - vendor: tracktik
            tenant: demo-tracktik
            secretHeader: {name: TrackTik-Callout-Secret, value: demo-tracktik-secret}
          - vendor: hellotracks
            tenant: demo-hellotracks
            account: demo.account
            headers: {X-Webhook-Key: demo-hellotracks-key}
          - vendor: techlink
            tenant: demo-techlink
        """
}
