import FieldgateCore
import FieldgateModel
import Hummingbird
import Logging

import struct NIOCore.ByteBuffer

/// Answers every request under `/webhooks/` through the ingest pipeline (CONTRACT §1) and passes the rest on.
///
/// It sits in front of the router because ingest routing is the pipeline's job: paths match exactly as sent
/// (raw, case-sensitive, `%2F` as data), which a router that decodes and normalises paths would not preserve.
///
/// The head decides first: route, method, declared size, tenant and credentials are checked before a byte of
/// the body is read, so a refused request is answered at once and its body is never buffered (the connection
/// handler drains it, bounded, or closes the connection).
struct IngestMiddleware<Context: RequestContext>: RouterMiddleware {
    let pipeline: IngestPipeline
    let clock: any WallClock
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
        let head = RequestHead(
            method: request.method.rawValue,
            target: target,
            headers: RequestHeaders(request.headers.map { (name: $0.name.rawName, value: $0.value) })
        )
        let outcome: IngestOutcome
        var vendor = "none"
        var tenant = "unknown"
        /// Only a configured tenant is a label (metrics, counts): scanners must not create series.
        var configuredTenant: String?
        switch pipeline.admit(head) {
        case .refused(let problem, let refusedVendor, let refusedTenant):
            vendor = refusedVendor ?? vendor
            tenant = refusedTenant ?? tenant
            configuredTenant = refusedTenant
            outcome = .rejected(problem, quarantined: false)
        case .admitted(let admitted):
            vendor = admitted.vendor
            tenant = admitted.tenant
            configuredTenant = admitted.tenant
            let body = try await RequestBodyReader.read(
                request.body,
                limit: pipeline.maxBodyBytes,
                declaredLength: admitted.declaredLength
            )
            switch body {
            case .complete(let body):
                do {
                    outcome = try await pipeline.process(admitted, body: body)
                } catch let overload as StoreOverloaded {
                    outcome = .rejected(.overloaded(overload), quarantined: false)
                } catch {
                    metrics.countStoreError(operation: "ingest")
                    metrics.countIngest(vendor: vendor, tenant: tenant, outcome: "store-unavailable", duration: .zero)
                    throw StoreFailure(underlying: error)
                }
            case .tooLarge:
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
        case .duplicate(let id):
            response = Self.acknowledgement(status: "duplicate", id: id)
            label = "duplicate"
        case .rejected(let problem, _):
            response = problem.response
            label = problem.code.rawValue
        }
        metrics.countIngest(vendor: vendor, tenant: tenant, outcome: label, duration: ContinuousClock.now - started)
        if vendor != "none" {
            tally.record(
                vendor: vendor,
                tenant: configuredTenant,
                outcome: outcome.tallied,
                quarantined: outcome.isQuarantined,
                at: clock.now()
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
        case .accepted(let event):
            metadata["event.id"] = "\(event.id)"
        case .duplicate(let id):
            metadata["event.id"] = "\(id)"
        case .rejected(let problem, let quarantined):
            metadata["problem.detail"] = "\(problem.detail)"
            if quarantined { metadata["quarantined"] = "true" }
        }
        return metadata
    }

    static func acknowledgement(status: String, id: String) -> Response {
        .json(Acknowledgement.bytes(status: status, id: id), status: .accepted)
    }
}

/// Reads an admitted request's body into one array, stopping at the limit.
///
/// Nothing is reserved for the declared length up front: a `Content-Length` is a claim, and a client that
/// declares a megabyte and sends a byte must not cost a megabyte. The chunks NIO delivers are kept as they
/// arrive (each already allocated) and copied once, at the end, into an array of exactly their total size —
/// or handed over without a copy into a second buffer when there is only one.
enum RequestBodyReader {
    enum Result: Sendable, Equatable {
        case complete([UInt8])
        /// The body grew past the limit while it was read; reading stopped there.
        case tooLarge
    }

    /// Throws what reading throws (a body the parser refused), and ``IncompleteRequest`` when the body ended
    /// short of its declared length: a truncated body is never taken for the whole.
    static func read<Body: AsyncSequence>(
        _ body: Body,
        limit: Int,
        declaredLength: Int? = nil
    ) async throws -> Result where Body.Element == ByteBuffer {
        var chunks: [ByteBuffer] = []
        var total = 0
        for try await chunk in body {
            total += chunk.readableBytes
            guard total <= limit else { return .tooLarge }
            if chunk.readableBytes > 0 { chunks.append(chunk) }
        }
        if let declaredLength, total < declaredLength {
            throw IncompleteRequest(received: total, declared: declaredLength)
        }
        if chunks.count == 1 { return .complete(Array(chunks[0].readableBytesView)) }
        let bytes = [UInt8](unsafeUninitializedCapacity: total) { output, count in
            var offset = 0
            for chunk in chunks {
                chunk.withUnsafeReadableBytes { bytes in
                    let target = UnsafeMutableRawBufferPointer(
                        rebasing: UnsafeMutableRawBufferPointer(output)[offset...]
                    )
                    target.copyMemory(from: bytes)
                }
                offset += chunk.readableBytes
            }
            count = offset
        }
        return .complete(bytes)
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
