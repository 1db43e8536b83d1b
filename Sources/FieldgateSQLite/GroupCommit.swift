import Dispatch
import GRDB
import Synchronization

/// Concurrent writes share one transaction and one fsync.
///
/// With `synchronous=FULL` every commit waits for the disk, so one commit per request caps ingest near the
/// disk's fsync rate. Writers queue their work here; one committer on its own dispatch queue takes everything
/// queued so far (at most ``maximumBatch``), runs it in one transaction, commits once and answers every writer,
/// then takes the next batch. The committer blocks on the disk, never a Swift concurrency thread, and it does not
/// hop back to the cooperative pool between batches, so a busy pool cannot stretch the commit cycle.
///
/// If a batch's transaction fails, each of its writes is retried in a transaction of its own, so one bad write
/// fails alone.
final class GroupCommit: Sendable {
    /// One submitted write: its work, and how to answer it.
    private struct Pending: Sendable {
        let run: @Sendable (Database) throws -> Void
        let answer: @Sendable ((any Error)?) -> Void
    }

    private struct State {
        var queue: [Pending] = []
        var draining = false
    }

    private let writer: DatabasePool
    private let state = Mutex(State())
    private let committer = DispatchQueue(label: "fieldgate.sqlite.group-commit")
    /// Caps one transaction so that a burst is not held in memory and one batch does not delay its first writer.
    let maximumBatch: Int
    /// Called with each committed batch's size (metrics).
    private let onCommit: @Sendable (Int) -> Void
    /// Keeps checkpoints off the commit path (the connections' automatic checkpoint is off).
    private let checkpointer: WALCheckpointer

    init(
        writer: DatabasePool,
        checkpointer: WALCheckpointer,
        maximumBatch: Int = 512,
        onCommit: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.writer = writer
        self.checkpointer = checkpointer
        self.maximumBatch = maximumBatch
        self.onCommit = onCommit
    }

    /// Runs `work` inside a batch transaction and returns its result once the batch is durably committed.
    func write<Result: Sendable>(_ work: @escaping @Sendable (Database) throws -> Result) async throws -> Result {
        let box = ResultBox<Result>()
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let pending = Pending(
                run: { database in box.value = try work(database) },
                answer: { error in
                    if let error { continuation.resume(throwing: error) } else { continuation.resume() }
                }
            )
            let startDraining = state.withLock { state -> Bool in
                state.queue.append(pending)
                guard !state.draining else { return false }
                state.draining = true
                return true
            }
            if startDraining { committer.async { self.drain() } }
        }
        guard let value = box.value else { throw GroupCommitError.noResult }
        return value
    }

    /// Commits batches until the queue is empty. Runs on `committer` only.
    private func drain() {
        while true {
            let batch = state.withLock { state -> [Pending] in
                let count = min(state.queue.count, maximumBatch)
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                if batch.isEmpty { state.draining = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                try writer.write { database in
                    for pending in batch { try pending.run(database) }
                }
                onCommit(batch.count)
                for pending in batch { pending.answer(nil) }
                committed()
            } catch {
                for pending in batch {
                    do {
                        try writer.write { database in try pending.run(database) }
                        onCommit(1)
                        pending.answer(nil)
                        committed()
                    } catch {
                        pending.answer(error)
                    }
                }
            }
        }
    }
}

extension GroupCommit {
    /// After a commit: wakes the background checkpoint, or checkpoints here when it has fallen behind.
    private func committed() {
        guard checkpointer.committed() else { return }
        checkpointer.committerCheckpointed(try? writer.writeWithoutTransaction { try $0.checkpoint(.passive) })
    }
}

enum GroupCommitError: Error, CustomStringConvertible {
    case noResult
    var description: String { "the write produced no result" }
}

/// Carries a write's result out of the transaction closure: written on the committer before the writer's
/// continuation is resumed, read by the writer after it (the resumption orders the two).
private final class ResultBox<Value>: @unchecked Sendable {
    var value: Value?
}
