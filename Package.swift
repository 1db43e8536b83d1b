// swift-tools-version:6.1
import PackageDescription
import class Foundation.ProcessInfo

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
        .library(name: "FieldgateCore", targets: ["FieldgateCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
    ],
    targets: [
        // MARK: Canonical model: no server, storage or crypto dependencies.
        .target(name: "FieldgateModel"),

        // MARK: Vendor adapters: each depends on the model only.
        .target(name: "TrackTikAdapter", dependencies: ["FieldgateModel"], path: "Adapters/TrackTik"),
        .target(name: "HellotracksAdapter", dependencies: ["FieldgateModel"], path: "Adapters/Hellotracks"),
        .target(name: "TechLinkAdapter", dependencies: ["FieldgateModel"], path: "Adapters/TechLink"),

        // MARK: Ingest pipeline, configuration, dedupe and the store protocol.
        .target(
            name: "FieldgateCore",
            dependencies: [
                "FieldgateModel",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),

        // MARK: The executable: the only place that knows every adapter.
        .executableTarget(
            name: "fieldgate",
            dependencies: [
                "FieldgateModel",
                "FieldgateCore",
                "TrackTikAdapter",
                "HellotracksAdapter",
                "TechLinkAdapter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests
        .target(name: "FieldgateTestSupport", dependencies: ["FieldgateModel", "FieldgateCore"]),
        .testTarget(name: "FieldgateModelTests", dependencies: ["FieldgateModel"]),
        .testTarget(
            name: "FieldgateCoreTests",
            dependencies: [
                "FieldgateModel", "FieldgateCore", "FieldgateTestSupport",
                "TrackTikAdapter", "HellotracksAdapter", "TechLinkAdapter",
            ]
        ),
        .testTarget(
            name: "AdapterTests",
            dependencies: [
                "FieldgateModel", "FieldgateCore", "FieldgateTestSupport",
                "TrackTikAdapter", "HellotracksAdapter", "TechLinkAdapter",
            ]
        ),
    ]
)

for target in package.targets {
    target.swiftSettings = (target.swiftSettings ?? []) + swiftSettings
}

if benchmarksEnabled {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.0", traits: ["MallocInterposer"])
    )
    package.targets.append(
        .executableTarget(
            name: "Normalize",
            dependencies: [
                "FieldgateModel",
                "FieldgateCore",
                "TrackTikAdapter",
                "HellotracksAdapter",
                "TechLinkAdapter",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Normalize",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
}
