// swift-tools-version:6.1
import PackageDescription
import class Foundation.ProcessInfo

/// Fuzz targets are built only by scripts/fuzz.sh (with `-sanitize=fuzzer,address`): `FIELDGATE_FUZZ=1` adds them.
let fuzzingEnabled = ProcessInfo.processInfo.environment["FIELDGATE_FUZZ"] != nil

/// Benchmarks pull in package-benchmark and its malloc interposer; keep them out of ordinary builds and test runs.
/// `FIELDGATE_BENCHMARKS=1 swift package benchmark` turns them on.
let benchmarksEnabled = ProcessInfo.processInfo.environment["FIELDGATE_BENCHMARKS"] != nil

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

var package = Package(
    name: "fieldgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fieldgate", targets: ["fieldgate"]),
        .library(name: "FieldgateModel", targets: ["FieldgateModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
    ],
    targets: [
        // MARK: Canonical model: no server, storage or crypto dependencies.
        .target(name: "FieldgateModel"),

        // MARK: Vendor adapters: each depends on the model only.
        .target(name: "TrackTikAdapter", dependencies: ["FieldgateModel"], path: "Adapters/TrackTik"),
        .target(name: "HellotracksAdapter", dependencies: ["FieldgateModel"], path: "Adapters/Hellotracks"),
        .target(name: "TechLinkAdapter", dependencies: ["FieldgateModel"], path: "Adapters/TechLink"),

        // MARK: The one list of vendors this build supports (the executable, tests and benchmarks all use it).
        .target(
            name: "FieldgateVendors",
            dependencies: ["FieldgateModel", "TrackTikAdapter", "HellotracksAdapter", "TechLinkAdapter"]
        ),

        // MARK: What each fuzz target checks for one input (the fuzz binaries and the regression tests share it).
        .target(
            name: "FieldgateFuzzChecks",
            dependencies: ["FieldgateModel", "FieldgateVendors"],
            path: "Fuzz/Checks"
        ),

        // MARK: Ingest pipeline, configuration, dedupe and the store protocol.
        .target(
            name: "FieldgateCore",
            dependencies: [
                "FieldgateModel",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                // Maintenance (retention, dedupe-key purge) runs as a Service and logs what it deletes.
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: Stores: the embedded default.
        .target(
            name: "FieldgateSQLite",
            dependencies: [
                "FieldgateModel",
                "FieldgateCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),

        // MARK: Stores: PostgreSQL, for several gateway instances on one database.
        .target(
            name: "FieldgatePostgres",
            dependencies: [
                "FieldgateModel",
                "FieldgateCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: Outbound delivery: signed webhooks with retries, on AsyncHTTPClient.
        .target(
            name: "FieldgateDelivery",
            dependencies: [
                "FieldgateModel",
                "FieldgateCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),

        // MARK: Load tooling: corpus replay and generation.
        .target(
            name: "FieldgateLoad",
            dependencies: [
                "FieldgateModel",
                "FieldgateCore",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),

        // MARK: The operator console: server-rendered pages, sessions, embedded assets; mounted by FieldgateHTTP.
        .target(
            name: "FieldgateConsole",
            dependencies: [
                "FieldgateModel",
                "FieldgateCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [
                .embedInCode("Assets/console.css"),
                .embedInCode("Assets/console.js"),
                .embedInCode("Assets/icon.svg"),
            ]
        ),

        // MARK: The Hummingbird application: ingest routes, problem responses, admin API, metrics.
        .target(
            name: "FieldgateHTTP",
            dependencies: [
                "FieldgateModel",
                "FieldgateCore",
                "FieldgateConsole",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),

        // MARK: The executable: the only composition root (its vendors come from FieldgateVendors).
        .executableTarget(
            name: "fieldgate",
            dependencies: [
                "FieldgateModel",
                "FieldgateCore",
                "FieldgateVendors",
                "FieldgateSQLite",
                "FieldgatePostgres",
                "FieldgateHTTP",
                "FieldgateConsole",
                "FieldgateDelivery",
                "FieldgateLoad",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: Tests
        .target(
            name: "FieldgateTestSupport",
            dependencies: [
                "FieldgateModel", "FieldgateCore", "FieldgateDelivery",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "FieldgateModelTests", dependencies: ["FieldgateModel"]),
        .testTarget(
            name: "FieldgateCoreTests",
            dependencies: [
                "FieldgateModel", "FieldgateCore", "FieldgateTestSupport",
                "FieldgateVendors",
            ]
        ),
        // The stores (SQLite, PostgreSQL) against one conformance suite, and the Core services that run on them.
        .testTarget(
            name: "StoreTests",
            dependencies: [
                "FieldgateModel", "FieldgateCore", "FieldgateSQLite", "FieldgatePostgres", "FieldgateTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "FieldgateHTTPTests",
            dependencies: [
                "FieldgateModel", "FieldgateCore", "FieldgateSQLite", "FieldgateHTTP", "FieldgateConsole",
                "FieldgateTestSupport",
                "FieldgateVendors",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // A channel for a request context built by hand (the ingest middleware's body-read test).
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                // Reads the served OpenAPI document to check that every reference resolves inside it.
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(
            name: "FieldgateDeliveryTests",
            dependencies: [
                "FieldgateModel", "FieldgateCore", "FieldgateSQLite", "FieldgateDelivery", "FieldgateTestSupport",
                "FieldgateVendors",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "FieldgateLoadTests",
            dependencies: [
                "FieldgateModel", "FieldgateCore", "FieldgateLoad", "FieldgateTestSupport",
                "FieldgateVendors",
            ]
        ),
        .testTarget(
            name: "ServeProcessTests",
            dependencies: [
                "FieldgateModel", "FieldgateCore", "FieldgateSQLite", "FieldgateTestSupport", "fieldgate",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AdapterTests",
            dependencies: [
                "FieldgateModel", "FieldgateCore", "FieldgateTestSupport",
                "FieldgateVendors", "FieldgateFuzzChecks",
            ],
            exclude: ["FuzzRegressions"]
        ),
    ]
)

for target in package.targets {
    target.swiftSettings = (target.swiftSettings ?? []) + swiftSettings
}

if fuzzingEnabled {
    for name in ["FuzzJSON", "FuzzHellotracks", "FuzzTechLink", "FuzzTrackTik"] {
        package.targets.append(
            .executableTarget(
                name: name,
                dependencies: ["FieldgateFuzzChecks"],
                path: "Fuzz/\(name)",
                swiftSettings: swiftSettings
            )
        )
    }
}

if benchmarksEnabled {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.0", traits: ["MallocInterposer"])
    )
    package.targets += [
        // The parse hot path: adapters, event IDs, canonical JSON, the in-process pipeline.
        .executableTarget(
            name: "Normalize",
            dependencies: [
                "FieldgateModel",
                "FieldgateCore",
                "FieldgateVendors",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Normalize",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Pathological request shapes beside plain bodies of the same size (CONTRACT §1, cost).
        .executableTarget(
            name: "Hostile",
            dependencies: [
                "FieldgateModel",
                "FieldgateCore",
                "FieldgateTestSupport",
                "FieldgateVendors",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Hostile",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The durable write path: SQLite group commit with synchronous=FULL.
        .executableTarget(
            name: "Store",
            dependencies: [
                "FieldgateModel",
                "FieldgateCore",
                "FieldgateSQLite",
                "FieldgateTestSupport",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Store",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The framework ceiling for docs/PERFORMANCE.md: Hummingbird reading the body and answering 202.
        .executableTarget(
            name: "BareHummingbird",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "scripts/BareHummingbird",
            swiftSettings: swiftSettings
        ),
    ]
}
