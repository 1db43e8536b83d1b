import Dispatch
import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import GRDB
import Testing

@testable import FieldgateSQLite

/// CONTRACT §1: overload never means an unbounded queue, and nothing answered 202 is lost.
@Suite("SQLite commit queue")
struct CommitBackpressureTests {
    /// Holds the committer inside a transaction until released, so writes pile up behind it.
    final class Gate: Sendable {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
    }

    static func hold(_ store: SQLiteEventStore) -> Gate {
        let gate = Gate()
        Task {
            try await store.commits.write { _ in
                gate.entered.signal()
                gate.release.wait()
            }
        }
        gate.entered.wait()
        return gate
    }

    static func waitUntil(_ store: SQLiteEventStore, queued count: Int) async throws {
        for _ in 0..<500 where store.commits.queuedCount < count { try await Task.sleep(for: .milliseconds(10)) }
        #expect(store.commits.queuedCount == count)
    }

    @Test func aFullQueueRefusesWithRetryAfterAndEverythingQueuedIsCommitted() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteEventStore(
            path: directory.path("queue.db"),
            commitQueue: CommitQueueLimits(maximumQueued: 3, retryAfter: .seconds(2))
        )
        let gate = await Task.detached { Self.hold(store) }.value
        let queued = (0..<3).map { StoreSamples.candidate(content: "queued \($0)") }
        let writers = queued.map { candidate in Task { try await store.insertIfNew(candidate) } }
        try await Self.waitUntil(store, queued: 3)

        // The queue is full: the next ingest write is refused at once, and nothing of it is stored.
        let refused = StoreSamples.candidate(content: "refused")
        do {
            _ = try await store.insertIfNew(refused)
            Issue.record("a write beyond the bound was queued")
        } catch let overload as StoreOverloaded {
            #expect(overload.retryAfter == .seconds(2))
        }
        // The gateway's own writes still queue (they are bounded by their callers).
        let own = Task { try await store.checkWritable() }

        gate.release.signal()
        for writer in writers {
            guard case .inserted = try await writer.value else {
                Issue.record("a queued write was not committed")
                continue
            }
        }
        try await own.value
        for candidate in queued { #expect(try await store.event(id: candidate.key.eventID) != nil) }
        #expect(try await store.event(id: refused.key.eventID) == nil)
        // With the queue drained, the refused request's retry is taken.
        guard case .inserted = try await store.insertIfNew(refused) else {
            Issue.record("the retry was not stored")
            return
        }
    }

    /// A locked database fails the whole batch at once as overload, instead of retrying each write in turn (each
    /// waiting out the busy timeout to fail the same way).
    @Test func aBusyDatabaseFailsTheBatchFastAsOverload() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("busy.db")
        let store = try SQLiteEventStore(path: path)
        // Another process's writer holds the database's write lock.
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: path, configuration: configuration)
        try await other.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
        let candidates = (0..<3).map { StoreSamples.candidate(content: "busy \($0)") }
        let writers = candidates.map { candidate in Task { try await store.insertIfNew(candidate) } }
        for writer in writers {
            do {
                _ = try await writer.value
                Issue.record("a write went through a locked database")
            } catch let overload as StoreOverloaded {
                #expect(overload.reason.contains("busy"))
            }
        }
        try await other.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
        for candidate in candidates { #expect(try await store.event(id: candidate.key.eventID) == nil) }
        guard case .inserted = try await store.insertIfNew(candidates[0]) else {
            Issue.record("the store did not recover")
            return
        }
    }
}
