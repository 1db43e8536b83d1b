import FieldgateCore
import FieldgateModel
import HTTPTypes
import Hummingbird
import ServiceLifecycle
import Synchronization

import struct NIOCore.ByteBuffer

/// `GET /v1/stream`: accepted events as Server-Sent Events, for dashboards and debugging without a receiver.
///
/// The stream reads from the store, not from memory: `Last-Event-ID` resumes exactly after the last event a client
/// saw. It waits for the store to announce a commit rather than polling, so events accepted by another instance on
/// a shared store arrive as soon as that instance's NOTIFY does.
struct EventStream: Sendable {
    let store: any EventStore
    let changes: StoreChanges
    /// The vendors this build has adapters for: the `vendors` filter's vocabulary.
    let vendors: [String]
    var keepAlive: Duration = .seconds(15)
    static let page = 200
    static let lists: Set<String> = ["types", "vendors", "tenants", "statuses"]

    func response(_ request: Request) async throws -> Response {
        let parameters = try QueryParameters(request, allowed: Self.lists, lists: Self.lists)
        let filter = SubscriberFilter(
            types: parameters.list("types"),
            vendors: parameters.list("vendors"),
            tenants: parameters.list("tenants"),
            statuses: parameters.list("statuses")
        )
        if let unknown = filter.statuses.first(where: { JobStatus(rawValue: $0) == nil }) {
            throw Problem.invalidQuery("status '\(unknown)' is not a canonical status")
        }
        if let unknown = filter.vendors.first(where: { !vendors.contains($0) }) {
            throw Problem.invalidQuery("vendor '\(unknown)' is not one of: \(vendors.joined(separator: ", "))")
        }
        var start: Int64
        do {
            if let lastEventID = request.headers[HTTPField.Name("Last-Event-ID")!] {
                // A resume point that is gone (retention deleted it) or never was: the client should reconnect
                // without it rather than silently miss what came after.
                guard let stored = try await store.event(id: lastEventID) else {
                    throw Problem.resourceNotFound(
                        "Last-Event-ID '\(lastEventID)' is not a stored event; reconnect without it to start from now"
                    )
                }
                start = stored.sequence
            } else {
                // No resume point: from now on.
                start = try await store.events(EventQuery(limit: 1)).items.first?.sequence ?? 0
            }
        } catch let problem as Problem {
            throw problem
        } catch {
            throw StoreFailure(underlying: error)
        }
        let resumeAfter = start
        let store = self.store
        let changes = self.changes
        let keepAlive = self.keepAlive
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                // Listening starts before the first read: a commit between the two wakes the loop at once.
                let listener = changes.listen(to: .events)
                defer { listener.stop() }
                var after = resumeAfter
                try await writer.write(ByteBuffer(string: ": fieldgate live stream\n\n"))
                var lastWrite = ContinuousClock.now
                while !Task.isCancelled, !Task.isShuttingDownGracefully {
                    let events = try await store.events(after: after, limit: Self.page)
                    var frames: [UInt8] = []
                    for stored in events {
                        after = stored.sequence
                        guard filter.matches(stored.event) else { continue }
                        frames.append(
                            contentsOf: "id: \(stored.event.id)\nevent: \(stored.event.type.rawValue)\ndata: ".utf8
                        )
                        stored.event.write(into: &frames)
                        frames.append(contentsOf: "\n\n".utf8)
                    }
                    if !frames.isEmpty {
                        try await writer.write(ByteBuffer(bytes: frames))
                        lastWrite = .now
                    }
                    if events.count == Self.page { continue }
                    let quiet = ContinuousClock.now - lastWrite
                    if quiet >= keepAlive {
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        lastWrite = .now
                        continue
                    }
                    _ = await Self.wait(for: listener.wakeup, upTo: keepAlive - quiet)
                }
                try await writer.finish(nil)
            }
        )
    }

    /// True when woken, false after `timeout` or on graceful shutdown.
    static func wait(for wakeup: Wakeup, upTo timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await wakeup.wait()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            group.addTask {
                try? await gracefulShutdown()
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
