import FieldgateCore
import Logging
import PostgresNIO
import Synchronization

/// Concurrent writes of one kind share one transaction and one commit.
///
/// With `synchronous_commit = on` every COMMIT waits for PostgreSQL to flush its WAL; one transaction per request
/// caps ingest near the flush rate and spends a round trip per statement per request. Writers queue their item
/// here; one committer takes everything queued (at most ``maximumBatch``), writes it with multi-row statements in
/// one transaction (`commit`), and answers every writer once COMMIT has returned — never before.
///
/// The queue is bounded: when ``maximumQueued`` writes are already waiting (the database is slow or away), a
/// write fails at once with ``StoreOverloaded`` instead of joining an unbounded queue; the gateway answers 503
/// with `Retry-After` and nothing was acknowledged. When a batch fails because a statement failed, each item is
/// retried in a transaction of its own so that one bad write fails alone; when it fails because the database is
/// unreachable, every writer gets the error at once (retrying would only wait again).
final class PostgresGroupCommit<Item: Sendable, Output: Sendable>: Sendable {
    /// Writes one batch on `connection` in a transaction of its own (pipelined: see
    /// ``PostgresTransactions/pipeline(_:on:logger:)``); one output per item, in order.
    typealias Commit = @Sendable ([Item], GuardedConnection) async throws -> [Output]

    private struct Pending: Sendable {
        let item: Item
        let continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var stopped = false
    }

    let label: String
    let maximumBatch: Int
    let maximumQueued: Int
    private let commit: Commit
    private let state = Mutex(State())
    private let wakeup = Wakeup()
    /// Called with each committed batch's size (metrics).
    private let onCommit: @Sendable (Int) -> Void

    init(
        label: String,
        maximumBatch: Int = 512,
        maximumQueued: Int = 4_096,
        onCommit: @escaping @Sendable (Int) -> Void = { _ in },
        commit: @escaping Commit
    ) {
        self.label = label
        self.maximumBatch = maximumBatch
        self.maximumQueued = maximumQueued
        self.onCommit = onCommit
        self.commit = commit
    }

    /// Queues `item` and returns its output once its batch is committed.
    func write(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let refusal = state.withLock { state -> (any Error)? in
                guard !state.stopped else { return PostgresStoreError("the PostgreSQL store has stopped") }
                guard state.queue.count < maximumQueued else {
                    return StoreOverloaded(queued: state.queue.count)
                }
                state.queue.append(Pending(item: item, continuation: continuation))
                return nil
            }
            if let refusal {
                continuation.resume(throwing: refusal)
            } else {
                wakeup.signal()
            }
        }
    }

    /// Commits batches until cancelled; what is still queued then fails. Writes queue up until this runs.
    ///
    /// The committer keeps one connection of the pool while it has it: no lease, no task per batch. When it has
    /// none (PostgreSQL away) the writes waiting fail after at most the acquire timeout, and it tries again.
    func run(on transactions: PostgresTransactions) async {
        while !Task.isCancelled {
            guard state.withLock({ !$0.queue.isEmpty }) else {
                await wakeup.wait()
                continue
            }
            do {
                try await transactions.holding(label) { connection in try await self.serve(on: connection) }
            } catch {
                // No connection, or the one it had broke: what waits now would wait for the next one.
                for pending in takeAll() { pending.continuation.resume(throwing: error) }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        state.withLock { $0.stopped = true }
        for pending in takeAll() {
            pending.continuation.resume(throwing: PostgresStoreError("the PostgreSQL store stopped"))
        }
    }

    private func takeAll() -> [Pending] {
        state.withLock { state in
            defer { state.queue = [] }
            return state.queue
        }
    }

    /// Batch after batch on `connection`, until cancelled or the connection is found closed before a batch
    /// (returns: the caller takes another), or it fails during one (throws, after answering the batch).
    ///
    /// The committer waits for work holding its connection; if the server went away meanwhile (restarted while
    /// nothing was written), the next batch must go to a new connection rather than fail on the dead one.
    private func serve(on connection: GuardedConnection) async throws {
        while !Task.isCancelled {
            if connection.connection.isClosed { return }
            let batch = state.withLock { state -> [Pending] in
                let count = min(state.queue.count, maximumBatch)
                defer { state.queue.removeFirst(count) }
                return Array(state.queue.prefix(count))
            }
            if batch.isEmpty {
                await wakeup.wait()
                continue
            }
            try await commit(batch, on: connection)
        }
    }

    private func commit(_ batch: [Pending], on connection: GuardedConnection) async throws {
        let items = batch.map(\.item)
        do {
            let outputs = try await commit(items, connection)
            onCommit(batch.count)
            for (pending, output) in zip(batch, outputs) { pending.continuation.resume(returning: output) }
        } catch {
            guard batch.count > 1, PostgresFailure.isStatementFailure(error) else {
                for pending in batch { pending.continuation.resume(throwing: error) }
                if !PostgresFailure.isStatementFailure(error) { throw error }
                return
            }
            for pending in batch {
                do {
                    let output = try await commit([pending.item], connection)
                    onCommit(1)
                    pending.continuation.resume(returning: output[0])
                } catch {
                    pending.continuation.resume(throwing: error)
                }
            }
        }
    }
}
