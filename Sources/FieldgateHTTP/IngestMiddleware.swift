import FieldgateCore
import FieldgateModel
import Hummingbird
import Logging

import struct NIOCore.ByteBuffer

/// Answers every request under `/webhooks/` through the ingest pipeline (CONTRACT §1) and passes the rest on.
///
/// It sits in front of the router because ingest routing is the pipeline's job: paths match exactly as sent
/// (raw, case-sensitive, `%2F` as data), which a router that decodes and normalises paths would not preserve.
struct IngestMiddleware<Context: RequestContext>: RouterMiddleware {
    let pipeline: IngestPipeline
    let metrics: GatewayMetrics
    let tally: IngestTally

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let target = request.head.path ?? "/"
        guard target.hasPrefix(IngestPipeline.routePrefix) else { return try await next(request, context) }
        let started = ContinuousClock.now
        let headers = RequestHeaders(request.headers.map { (name: $0.name.rawName, value: $0.value) })
        let outcome: IngestOutcome
        var vendor = "none"
        var tenant = "unknown"
        switch pipeline.route(method: request.method.rawValue, path: target, headers: headers) {
        case .failure(let problem):
            outcome = .rejected(problem, quarantined: false)
        case .success(let routed):
            vendor = routed.vendor
            if pipeline.directory.entry(vendor: routed.vendor, tenant: routed.tenant) != nil { tenant = routed.tenant }
            if let body = try await Self.readBody(request.body, limit: pipeline.maxBodyBytes, expected: headers) {
                do {
                    outcome = try await pipeline.process(routed, body: body)
                } catch {
                    metrics.countStoreError(operation: "ingest")
                    metrics.countIngest(vendor: vendor, tenant: tenant, outcome: "store-unavailable", duration: .zero)
                    throw StoreFailure(underlying: error)
                }
            } else {
                outcome = .rejected(
                    .bodyTooLarge("the body exceeds the limit of \(pipeline.maxBodyBytes) bytes"),
                    quarantined: false
                )
            }
        }
        let response: Response
        let label: String
        switch outcome {
        case .accepted(let event):
            response = Self.acknowledgement(status: "accepted", id: event.id)
            label = "accepted"
        case .duplicate(let original):
            response = Self.acknowledgement(status: "duplicate", id: original.id)
            label = "duplicate"
        case .rejected(let problem, _):
            response = problem.response
            label = problem.code
        }
        metrics.countIngest(vendor: vendor, tenant: tenant, outcome: label, duration: ContinuousClock.now - started)
        if vendor != "none" {
            tally.record(
                vendor: vendor,
                tenant: pipeline.directory.entry(vendor: vendor, tenant: tenant) == nil ? nil : tenant,
                outcome: outcome.tallied,
                quarantined: outcome.isQuarantined,
                at: pipeline.clock.now()
            )
        }
        // The metadata is built only when the level is enabled (accepted requests log at debug).
        context.logger.log(
            level: outcome.httpStatus == 202 ? .debug : .info,
            "ingest",
            metadata: Self.metadata(outcome, vendor: vendor, tenant: tenant, label: label)
        )
        return response
    }

    static func metadata(_ outcome: IngestOutcome, vendor: String, tenant: String, label: String) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["vendor": "\(vendor)", "tenant": "\(tenant)", "outcome": "\(label)"]
        switch outcome {
        case .accepted(let event), .duplicate(of: let event):
            metadata["event.id"] = "\(event.id)"
        case .rejected(let problem, let quarantined):
            metadata["problem.detail"] = "\(problem.detail)"
            if quarantined { metadata["quarantined"] = "true" }
        }
        return metadata
    }

    /// The body, or nil once it grows past `limit`: reading stops there, so an oversized upload is never buffered.
    static func readBody(_ body: RequestBody, limit: Int, expected headers: RequestHeaders) async throws -> [UInt8]? {
        var bytes: [UInt8] = []
        if let declared = headers["Content-Length"].flatMap(Int.init), declared <= limit {
            bytes.reserveCapacity(declared)
        }
        for try await buffer in body {
            guard bytes.count + buffer.readableBytes <= limit else { return nil }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        return bytes
    }

    static func acknowledgement(status: String, id: String) -> Response {
        .json(Acknowledgement.bytes(status: status, id: id), status: .accepted)
    }
}

/// `{"status":"accepted"|"duplicate","id":"…"}`, the answer to an ingest request, and with `"event"` the answer to
/// a quarantine replay: one writer so the two cannot drift apart.
enum Acknowledgement {
    static func bytes(status: String, id: String, event: CanonicalEvent? = nil) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(event == nil ? 64 : 1024)
        output.append(contentsOf: #"{"status":""#.utf8)
        output.append(contentsOf: status.utf8)
        output.append(contentsOf: #"","id":""#.utf8)
        output.append(contentsOf: id.utf8)
        output.append(UInt8(ascii: "\""))
        if let event {
            output.append(contentsOf: #","event":"#.utf8)
            event.write(into: &output)
        }
        output.append(UInt8(ascii: "}"))
        return output
    }
}

extension IngestOutcome {
    /// How the console's counts file this outcome.
    var tallied: IngestCount.Outcome {
        switch self {
        case .accepted: .accepted
        case .duplicate: .duplicate
        case .rejected(let problem, _): .refused(status: problem.status)
        }
    }

    var isQuarantined: Bool {
        if case .rejected(_, true) = self { return true }
        return false
    }
}
