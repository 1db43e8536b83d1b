import FieldgateCore
import FieldgateModel
import Foundation
import Hummingbird

import struct NIOCore.ByteBuffer

/// `/v1/…`: events, job timelines, quarantine and replay, for operators and the systems they build.
struct AdminRoutes<Context: RequestContext>: Sendable {
    let store: any EventStore
    /// Quarantine replay runs the stored request through today's pipeline.
    let pipeline: IngestPipeline
    /// The vendors this build has adapters for: the `vendor` filter's vocabulary.
    var vendors: [String] { pipeline.vendors }

    func register(on group: RouterGroup<Context>) {
        group.get("events") { request, _ in try await listEvents(request) }
        group.get("events/:id") { _, context in try await event(id: try context.parameters.require("id")) }
        group.get("jobs") { request, _ in try await listJobs(request) }
        group.get("jobs/:key") { _, context in try await job(key: try context.parameters.require("key")) }
        group.get("quarantine") { request, _ in try await listQuarantine(request) }
        group.get("quarantine/:id") { _, context in
            try await quarantined(id: try context.parameters.require("id"))
        }
        group.post("quarantine/:id/replay") { _, context in
            try await replay(id: try context.parameters.require("id"))
        }
    }

    // MARK: Events

    func listEvents(_ request: Request) async throws -> Response {
        let parameters = try QueryParameters(
            request,
            allowed: [
                "vendor", "tenant", "type", "job", "status", "since", "until", "limit", "cursor",
            ]
        )
        var query = EventQuery(limit: try parameters.limit())
        query.vendor = try parameters.vendor("vendor", known: vendors)
        query.tenant = try parameters.tenant("tenant")
        query.type = try parameters.vocabulary("type", EventType.allCases.map(\.rawValue))
        query.jobKey = parameters.text("job")
        query.status = try parameters.vocabulary("status", JobStatus.allCases.map(\.rawValue))
        query.since = try parameters.timestamp("since")
        query.until = try parameters.timestamp("until")
        query.before = try parameters.sequenceCursor()
        let page = try await storeCall { try await store.events(query) }
        return .json(AdminRepresentation.eventList(page.items, paged: true, nextCursor: page.nextBefore))
    }

    func event(id: String) async throws -> Response {
        guard let stored = try await storeCall({ try await store.event(id: id) }) else {
            throw Problem.resourceNotFound("no event with ID '\(id)'")
        }
        return .json(AdminRepresentation.storedEvent(stored))
    }

    func job(key: String) async throws -> Response {
        let key = key.removingPercentEncodingIfNeeded
        let events = try await storeCall { try await store.events(jobKey: key) }
        guard !events.isEmpty else {
            throw Problem.resourceNotFound("no events for job '\(key)' (a job key is vendor:tenant:jobId)")
        }
        return .json(JobTimeline(key: key, events: events).json)
    }

    func listJobs(_ request: Request) async throws -> Response {
        let parameters = try QueryParameters(
            request,
            allowed: ["vendor", "tenant", "status", "updatedBefore", "limit", "cursor"]
        )
        var query = JobQuery(limit: try parameters.limit())
        query.vendor = try parameters.vendor("vendor", known: vendors)
        query.tenant = try parameters.tenant("tenant")
        query.status = try parameters.vocabulary("status", JobStatus.allCases.map(\.rawValue))
            .flatMap(JobStatus.init(rawValue:))
        query.updatedBefore = try parameters.timestamp("updatedBefore")
        query.after = try parameters.jobCursor()
        let page = try await storeCall { try await store.jobs(query) }
        return .json(
            .object([
                "jobs": .array(page.jobs.map { .object(AdminRepresentation.jobSummary($0)) }),
                "nextCursor": .string(page.next?.text),
            ])
        )
    }

    // MARK: Quarantine

    func listQuarantine(_ request: Request) async throws -> Response {
        let parameters = try QueryParameters(request, allowed: ["vendor", "tenant", "limit", "cursor"])
        var query = QuarantineQuery(limit: try parameters.limit())
        query.vendor = try parameters.vendor("vendor", known: vendors)
        query.tenant = try parameters.tenant("tenant")
        query.before = try parameters.sequenceCursor()
        let page = try await storeCall { try await store.quarantinedRequests(query) }
        return .json(AdminRepresentation.quarantineList(page))
    }

    func quarantined(id: String) async throws -> Response {
        guard let request = try await storeCall({ try await store.quarantinedRequest(id: id) }) else {
            throw Problem.resourceNotFound("no quarantined request with ID '\(id)'")
        }
        return .json(AdminRepresentation.quarantinedRequest(request))
    }

    /// Re-runs the stored request through today's pipeline (one Core operation, atomic in the store); success
    /// turns it into an event (or finds the event it duplicates). A request replayed before answers 409
    /// `already-replayed` with that event's ID in `eventId`.
    func replay(id: String) async throws -> Response {
        let status: String
        let event: CanonicalEvent
        switch try await storeCall({ try await pipeline.replay(quarantineID: id) }) {
        case .accepted(let accepted): (status, event) = ("accepted", accepted)
        case .duplicate(let id):
            // The pipeline answers a duplicate with the first copy's ID; the replay's answer shows its event.
            guard let original = try await storeCall({ try await store.event(id: id) }) else {
                throw Problem.resourceNotFound("the event '\(id)' this request duplicates is gone")
            }
            (status, event) = ("duplicate", original.event)
        case .rejected(let problem):
            // The replay request itself was fine: answering with the replayed request's own status (a 401 or a
            // 415 from an admin endpoint) would tell the client its own credentials or body were wrong.
            let rejection = Problem(
                .replayRejected,
                "quarantined request \(id) still fails: \(problem.status) \(problem.code): \(problem.detail)"
            )
            return Self.problem(rejection, adding: "problem", problem.json)
        case .notFound: throw Problem.resourceNotFound("no quarantined request with ID '\(id)'")
        case .alreadyReplayed(let eventID, let at):
            let when = at.map { " at \($0.rfc3339(alwaysMilliseconds: true))" } ?? ""
            let problem = Problem(
                .alreadyReplayed,
                "quarantined request \(id) was replayed\(when) into event \(eventID); it is not replayed twice"
            )
            return Self.problem(problem, adding: "eventId", .string(eventID))
        }
        return .json(Acknowledgement.bytes(status: status, id: event.id, event: event))
    }

    /// A problem document with one extension member (RFC 9457 §3.2).
    static func problem(_ problem: Problem, adding name: String, _ value: JSONValue) -> Response {
        var response = problem.response
        guard case .object(var members) = problem.json else { return response }
        members.set(name, value)
        var bytes: [UInt8] = []
        JSONValue.object(members).write(into: &bytes)
        response.body = ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
        return response
    }
}

/// `Authorization: Bearer <admin.token>`, compared in constant time.
struct AdminAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard let token else {
            throw Problem.unauthorized("the admin API is disabled: set admin.token in fieldgate.yaml")
        }
        guard let authorization = request.headers[.authorization] else {
            throw Problem.unauthorized("send Authorization: Bearer <admin token>")
        }
        let prefix = "Bearer "
        guard authorization.hasPrefix(prefix),
            SecretComparison.matches(String(authorization.dropFirst(prefix.count)), token)
        else {
            throw Problem.unauthorized("the bearer token is not the admin token")
        }
        return try await next(request, context)
    }
}
