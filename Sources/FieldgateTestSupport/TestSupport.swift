package import FieldgateCore
package import FieldgateModel

package import struct Foundation.Data
package import class Foundation.FileManager
package import class Foundation.ProcessInfo
package import struct Foundation.URL

/// Where the repository, the contracts and the shared corpus are, wherever `swift test` runs from.
package enum RepositoryPaths {
    /// The package root, found from this file's location.
    package static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    package static let contracts = root.appendingPathComponent("Contracts")

    /// `../shared/corpus` beside the clone (as CI lays it out), or `FIELDGATE_SHARED` if set.
    package static var sharedCorpus: URL {
        if let override = ProcessInfo.processInfo.environment["FIELDGATE_SHARED"] {
            return URL(fileURLWithPath: override).appendingPathComponent("corpus")
        }
        return root.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    }

    package static func read(_ url: URL) throws -> String {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TestSupportError("cannot read \(url.path)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

package struct TestSupportError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// A pipeline over an in-memory store with a manual clock: the usual setup for tests.
package struct PipelineHarness: Sendable {
    package let pipeline: IngestPipeline
    package let directory: TenantDirectory
    package let store: InMemoryEventStore
    package let clock: ManualWallClock

    package init(
        configurationYAML: String,
        adapters: [any VendorAdapter],
        now: UTCTimestamp = UTCTimestamp(rfc3339: "2026-10-26T21:14:06.512Z")!
    ) throws {
        let configuration = try GatewayConfiguration.parse(yaml: configurationYAML)
        directory = try TenantDirectory(configuration: configuration, adapters: adapters)
        store = InMemoryEventStore()
        clock = ManualWallClock(now)
        pipeline = IngestPipeline(
            directory: directory,
            store: store,
            clock: clock,
            maxBodyBytes: configuration.server.maxBodyBytes
        )
    }

    package func send(_ request: InboundRequest) async throws -> IngestOutcome {
        try await pipeline.process(request)
    }
}

extension IngestOutcome {
    /// The event a new request became (a duplicate carries only the first copy's ID).
    package var event: CanonicalEvent? {
        if case .accepted(let event) = self { return event }
        return nil
    }

    /// The event ID the answer names: the new event's, or the first copy's for a duplicate.
    package var eventID: String? {
        switch self {
        case .accepted(let event): event.id
        case .duplicate(let id): id
        case .rejected: nil
        }
    }

    package var problem: Problem? {
        if case .rejected(let problem, _) = self { return problem }
        return nil
    }

    package var isAccepted: Bool {
        if case .accepted = self { return true }
        return false
    }

    package var isDuplicate: Bool {
        if case .duplicate = self { return true }
        return false
    }

    package var wasQuarantined: Bool {
        if case .rejected(_, let quarantined) = self { return quarantined }
        return false
    }
}

extension CanonicalEvent {
    /// The event as an owned JSON value, for comparisons in tests.
    package var jsonValue: JSONValue {
        try! JSONValue(parsing: jsonBytes)
    }
}

extension RepositoryPaths {
    package static func write(_ bytes: [UInt8], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw TestSupportError("cannot write \(path)")
        }
    }

    /// The file's size in bytes.
    package static func fileSize(_ path: String) throws -> Int {
        guard let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int else {
            throw TestSupportError("no size for \(path)")
        }
        return size
    }
}
