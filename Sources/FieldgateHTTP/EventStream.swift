import FieldgateCore
import FieldgateModel
import HTTPTypes
import Hummingbird
import ServiceLifecycle
import Synchronization

import struct NIOCore.ByteBuffer

/// Tells every open live stream that new events were stored.
package final class EventBroadcast: Sendable {
    private let listeners = Mutex<[Int: Wakeup]>([:])
    private let nextID = Mutex(0)

    package init() {}

    package func notify() {
        for listener in listeners.withLock({ Array($0.values) }) { listener.signal() }
    }

    func listen() -> (id: Int, wakeup: Wakeup) {
        let wakeup = Wakeup()
        let id = nextID.withLock { id in
            id += 1
            return id
        }
        listeners.withLock { $0[id] = wakeup }
        return (id, wakeup)
    }

    func stopListening(_ id: Int) {
        _ = listeners.withLock { $0.removeValue(forKey: id) }
    }
}

/// `GET /v1/stream`: accepted events as Server-Sent Events, for dashboards and debugging without a receiver.
///
/// The stream reads from the store, not from memory: `Last-Event-ID` resumes exactly after the last event a client
/// saw, and events accepted by another instance on the same store arrive too (within the poll interval).
struct EventStream: Sendable {
    let store: any EventStore
    let broadcast: EventBroadcast
    var keepAlive: Duration = .seconds(15)
    var poll: Duration = .seconds(1)
    static let page = 200

    func response(_ request: Request) async throws -> Response {
        let parameters = try QueryParameters(request, allowed: ["types", "vendors", "tenants", "statuses"])
        func list(_ name: String) -> [String] {
            (parameters.text(name) ?? "").split(separator: ",").map { String($0.filter { $0 != " " }) }
                .filter { !$0.isEmpty }
        }
        let filter = SubscriberFilter(
            types: list("types"),
            vendors: list("vendors"),
            tenants: list("tenants"),
            statuses: list("statuses")
        )
        if let unknown = filter.statuses.first(where: { JobStatus(rawValue: $0) == nil }) {
            throw Problem.invalidQuery("status '\(unknown)' is not a canonical status")
        }
        var start: Int64
        do {
            if let lastEventID = request.headers[HTTPField.Name("Last-Event-ID")!] {
                guard let stored = try await store.event(id: lastEventID) else {
                    throw Problem.invalidQuery("Last-Event-ID '\(lastEventID)' is not an event this gateway stored")
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
        let broadcast = self.broadcast
        let keepAlive = self.keepAlive
        let poll = self.poll
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                let (id, wakeup) = broadcast.listen()
                defer { broadcast.stopListening(id) }
                var after = resumeAfter
                var quiet = Duration.zero
                try await writer.write(ByteBuffer(string: ": fieldgate live stream\n\n"))
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
                        quiet = .zero
                    }
                    if events.count == Self.page { continue }
                    let woken = await Self.wait(for: wakeup, upTo: poll)
                    if !woken {
                        quiet += poll
                        if quiet >= keepAlive {
                            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                            quiet = .zero
                        }
                    }
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
