import GRDB
import Synchronization

/// Concurrent writes share one transaction and one fsync.
///
/// With `synchronous=FULL` every commit waits for the disk, so one commit per request caps ingest near the
/// disk's fsync rate. Here the first writer to find the queue idle becomes the *leader*: it takes every write
/// queued so far, runs them in one transaction (each in its own savepoint, so one failing write does not undo the
/// others), commits once, and answers them all. Writes that arrive meanwhile wait for the next batch; the leader
/// hands leadership to the oldest of them and returns, so no request works for others indefinitely.
final class GroupCommit: Sendable {
    /// One submitted write. Its mutable fields are touched only under `state`'s lock or by the single leader
    /// between taking the batch and resuming the continuations, which is what makes `@unchecked` sound.
    private final class Slot: @unchecked Sendable {
        let run: (Database) throws -> Void
        var continuation: CheckedContinuation<Role, Never>?
        var failure: (any Error)?

        init(run: @escaping (Database) throws -> Void) {
            self.run = run
        }
    }

    private enum Role {
        /// Drain the queue.
        case lead
        /// Your write was committed (or failed): read the slot.
        case done
    }

    private struct State {
        var queue: [Slot] = []
        var writing = false
    }

    private let writer: DatabasePool
    private let state = Mutex(State())
    /// Caps one transaction so that a burst is not held in memory and one batch does not delay its first writer.
    let maximumBatch: Int
    /// Called with each committed batch's size (metrics).
    private let onCommit: @Sendable (Int) -> Void

    init(writer: DatabasePool, maximumBatch: Int = 512, onCommit: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.writer = writer
        self.maximumBatch = maximumBatch
        self.onCommit = onCommit
    }

    /// Runs `work` inside a batch transaction and returns its result once the batch is durably committed.
    func write<Result: Sendable>(_ work: @escaping @Sendable (Database) throws -> Result) async throws -> Result {
        let box = ResultBox<Result>()
        let slot = Slot { database in box.value = try work(database) }
        let role = await withCheckedContinuation { continuation in
            let lead = state.withLock { state -> Bool in
                if state.writing {
                    slot.continuation = continuation
                    state.queue.append(slot)
                    return false
                }
                state.writing = true
                state.queue.append(slot)
                return true
            }
            if lead { continuation.resume(returning: .lead) }
        }
        if case .lead = role { await drainOnce() }
        if let failure = slot.failure { throw failure }
        guard let value = box.value else { throw GroupCommitError.noResult }
        return value
    }

    /// Commits one batch, answers its writers, then passes leadership on (or goes idle).
    private func drainOnce() async {
        let batch = state.withLock { state -> [Slot] in
            let count = min(state.queue.count, maximumBatch)
            let batch = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            return batch
        }
        do {
            try await writer.write { database in
                for slot in batch {
                    do {
                        try database.inSavepoint {
                            try slot.run(database)
                            return .commit
                        }
                    } catch {
                        slot.failure = error
                    }
                }
            }
            onCommit(batch.count)
        } catch {
            for slot in batch where slot.failure == nil { slot.failure = error }
        }
        let next = state.withLock { state -> Slot? in
            guard let first = state.queue.first else {
                state.writing = false
                return nil
            }
            return first
        }
        // The leader's own slot has no continuation: it is reading its result already.
        for slot in batch {
            slot.continuation?.resume(returning: .done)
        }
        if let next {
            let continuation = state.withLock { _ in
                let continuation = next.continuation
                next.continuation = nil
                return continuation
            }
            continuation?.resume(returning: .lead)
        }
    }
}

enum GroupCommitError: Error, CustomStringConvertible {
    case noResult
    var description: String { "the write produced no result" }
}

/// Carries a write's result out of the transaction closure; written by the leader, read by the writer after
/// its continuation resumed (which orders the two).
private final class ResultBox<Value>: @unchecked Sendable {
    var value: Value?
}
