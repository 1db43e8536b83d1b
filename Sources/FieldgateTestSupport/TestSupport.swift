public import FieldgateCore
public import FieldgateModel

public import class Foundation.FileManager
public import class Foundation.ProcessInfo
public import struct Foundation.URL
import struct Foundation.Data

/// Where the repository, the contracts and the shared corpus are, wherever `swift test` runs from.
public enum RepositoryPaths {
    /// The package root, found from this file's location.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let contracts = root.appendingPathComponent("Contracts")

    /// `../shared/corpus` beside the clone (as CI lays it out), or `FIELDGATE_SHARED` if set.
    public static var sharedCorpus: URL {
        if let override = ProcessInfo.processInfo.environment["FIELDGATE_SHARED"] {
            return URL(fileURLWithPath: override).appendingPathComponent("corpus")
        }
        return root.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    }

    public static func read(_ url: URL) throws -> String {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TestSupportError("cannot read \(url.path)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A pipeline over an in-memory store with a manual clock: the usual setup for tests.
public struct PipelineHarness: Sendable {
    public let pipeline: IngestPipeline
    public let store: InMemoryEventStore
    public let clock: ManualWallClock

    public init(
        configurationYAML: String,
        adapters: [any VendorAdapter],
        now: UTCTimestamp = UTCTimestamp(rfc3339: "2026-10-26T21:14:06.512Z")!
    ) throws {
        let configuration = try GatewayConfiguration.parse(yaml: configurationYAML)
        let directory = try TenantDirectory(configuration: configuration, adapters: adapters)
        store = InMemoryEventStore()
        clock = ManualWallClock(now)
        pipeline = IngestPipeline(
            directory: directory,
            store: store,
            clock: clock,
            maxBodyBytes: configuration.server.maxBodyBytes
        )
    }

    public func send(_ request: InboundRequest) async throws -> IngestOutcome {
        try await pipeline.process(request)
    }
}

extension IngestOutcome {
    public var event: CanonicalEvent? {
        switch self {
        case .accepted(let event), .duplicate(of: let event): event
        case .rejected: nil
        }
    }

    public var problem: Problem? {
        if case .rejected(let problem, _) = self { return problem }
        return nil
    }

    public var isAccepted: Bool {
        if case .accepted = self { return true }
        return false
    }

    public var isDuplicate: Bool {
        if case .duplicate = self { return true }
        return false
    }

    public var wasQuarantined: Bool {
        if case .rejected(_, let quarantined) = self { return quarantined }
        return false
    }
}

extension CanonicalEvent {
    /// The event as an owned JSON value, for comparisons in tests.
    public var jsonValue: JSONValue {
        try! JSONValue(parsing: jsonBytes)
    }
}

extension RepositoryPaths {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw TestSupportError("cannot write \(path)")
        }
    }

    /// The file's size in bytes.
    public static func fileSize(_ path: String) throws -> Int {
        guard let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int else {
            throw TestSupportError("no size for \(path)")
        }
        return size
    }
}
