package import FieldgateCore
package import FieldgateModel

package import class Foundation.FileManager
package import struct Foundation.URL
package import struct Foundation.UUID

/// Events and requests to feed stores in tests, without going through an adapter.
package enum StoreSamples {
    package static let start = UTCTimestamp(rfc3339: "2026-10-26T21:14:06.512Z")!

    /// A candidate whose dedupe key is derived from `content`, as the pipeline would derive it.
    package static func candidate(
        vendor: String = "techlink",
        tenant: String = "summit-telecom",
        type: EventType = .jobStatusChanged,
        jobID: String? = "207118",
        status: JobStatus? = .dispatched,
        content: String,
        receivedAt: UTCTimestamp = start,
        time: UTCTimestamp? = nil,
        window: Duration = .seconds(1800),
        body: [UInt8]? = nil
    ) -> EventCandidate {
        let key = DedupeKey(vendor: vendor, tenant: tenant, routeSuffix: "", canonicalContent: Array(content.utf8))
        let job = jobID.map {
            JobState(
                id: $0,
                key: "\(vendor):\(tenant):\($0)",
                status: status,
                vendorStatus: status.flatMap { VendorStatus(code: "22", name: $0.rawValue) },
                previousStatus: nil,
                previousVendorStatus: nil
            )
        }
        let event = CanonicalEvent(
            id: key.eventID,
            type: type,
            time: time ?? receivedAt,
            vendor: vendor,
            tenant: tenant,
            vendorEvent: "sample",
            receivedAt: receivedAt,
            job: job,
            detail: ["content": .string(content), "note": "caf\u{e9} \u{1F600} \"quoted\""]
        )
        let raw = RedactedRequest(
            method: "POST",
            path: "/webhooks/\(vendor)/\(tenant)",
            headers: RequestHeaders([
                (name: "Content-Type", value: "application/json"),
                (name: "X-Token", value: RedactedRequest.redactedValue),
                (name: "X-Repeated", value: "one"), (name: "X-Repeated", value: "two"),
                (name: "X-Quoted", value: #"say "hi" \ caf\#u{e9}"#),
            ]),
            body: body ?? Array(content.utf8)
        )
        return EventCandidate(
            event: event,
            key: key,
            keyExpiresAt: UTCTimestamp(millisecondsSinceEpoch: receivedAt.millisecondsSinceEpoch + window.milliseconds),
            raw: raw
        )
    }

    package static func quarantined(
        id: String,
        vendor: String = "techlink",
        tenant: String = "summit-telecom",
        receivedAt: UTCTimestamp = start
    ) -> QuarantinedRequest {
        QuarantinedRequest(
            id: id,
            vendor: vendor,
            tenant: tenant,
            routeSuffix: "",
            raw: RedactedRequest(
                method: "POST",
                path: "/webhooks/\(vendor)/\(tenant)",
                headers: RequestHeaders([(name: "Content-Type", value: "text/plain")]),
                body: [0xFF, 0x00, 0x7B]
            ),
            problem: .unsupportedMediaType("Content-Type 'text/plain' is not accepted here; expected application/json"),
            receivedAt: receivedAt
        )
    }
}

/// A fresh directory under the system's temporary folder, for SQLite files.
package struct TemporaryDirectory: Sendable {
    package let url: URL

    package init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgate-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    package func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    package func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// The shared dev corpus and the configuration its notes assume.
package struct DevCorpus: Sendable {
    package let configurationYAML: String
    package let lines: [String]

    package init() throws {
        let corpus = RepositoryPaths.sharedCorpus
        configurationYAML = try RepositoryPaths.read(corpus.appendingPathComponent("fieldgate.yaml"))
        lines = try RepositoryPaths.read(corpus.appendingPathComponent("dev.ndjson"))
            .split(separator: "\n", omittingEmptySubsequences: true)
            .map(String.init)
    }
}
