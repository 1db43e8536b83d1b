import Dispatch
import FieldgateCore
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
/// **Bounded.** Ingest writes say how many bytes they carry; when the writes waiting for the committer reach
/// ``Limits/maximumQueued`` or ``Limits/maximumQueuedBytes``, such a write is refused at once with
/// ``StoreOverloaded`` (503 with `Retry-After`, the vendor retries) instead of waiting in memory without bound.
/// Nothing refused was stored, and everything queued is committed and answered as before. The gateway's own
/// writes (delivery bookkeeping, admin changes) are bounded by their callers and always queue.
///
/// If a batch's transaction fails, each of its writes is retried in a transaction of its own, so one bad write
/// fails alone — unless the failure is the database's, not a write's (busy, full, I/O error, read-only): then
/// every write of the batch fails at once with it, rather than each waiting out the busy timeout to fail the same
/// way. A busy database answers ``StoreOverloaded``.
final class GroupCommit: Sendable {
    /// How much may wait for the committer.
    struct Limits: Sendable {
        var maximumQueued = 4096
        var maximumQueuedBytes = 64 * 1_048_576
        /// What a refused writer is told to wait before trying again.
        var retryAfter: Duration = .seconds(1)
    }

    /// One submitted write: its work, and how to answer it.
    private struct Pending: Sendable {
        let run: @Sendable (Database) throws -> Void
        let answer: @Sendable ((any Error)?) -> Void
        /// Counted against ``Limits/maximumQueuedBytes`` while it waits.
        let bytes: Int
    }

    private struct State {
        var queue: [Pending] = []
        var queuedBytes = 0
        var draining = false
    }

    private let writer: DatabasePool
    private let state = Mutex(State())
    private let committer = DispatchQueue(label: "fieldgate.sqlite.group-commit")
    /// Caps one transaction so that a burst is not held in memory and one batch does not delay its first writer.
    let maximumBatch: Int
    let limits: Limits
    /// Called with each committed batch's size (metrics).
    private let onCommit: @Sendable (Int) -> Void
    /// Keeps checkpoints off the commit path (the connections' automatic checkpoint is off).
    private let checkpointer: WALCheckpointer

    init(
        writer: DatabasePool,
        checkpointer: WALCheckpointer,
        maximumBatch: Int = 512,
        limits: Limits = Limits(),
        onCommit: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.writer = writer
        self.checkpointer = checkpointer
        self.maximumBatch = maximumBatch
        self.limits = limits
        self.onCommit = onCommit
    }

    /// Runs `work` inside a batch transaction and returns its result once the batch is durably committed.
    ///
    /// - Parameter bytes: what the write carries, for a write that may be refused when the queue is full (an
    ///   ingest write); nil for the gateway's own writes, which always queue.
    func write<Result: Sendable>(
        bytes: Int? = nil,
        _ work: @escaping @Sendable (Database) throws -> Result
    ) async throws -> Result {
        let box = ResultBox<Result>()
        let limits = limits
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let pending = Pending(
                run: { database in box.value = try work(database) },
                answer: { error in
                    if let error { continuation.resume(throwing: error) } else { continuation.resume() }
                },
                bytes: bytes ?? 0
            )
            let admitted = state.withLock { state -> Swift.Result<Bool, StoreOverloaded> in
                if let bytes, !state.queue.isEmpty,
                    state.queue.count >= limits.maximumQueued
                        || state.queuedBytes + bytes > limits.maximumQueuedBytes
                {
                    return .failure(
                        StoreOverloaded(
                            retryAfter: limits.retryAfter,
                            reason:
                                "\(state.queue.count) writes (\(state.queuedBytes) bytes) are waiting to be committed"
                        )
                    )
                }
                state.queue.append(pending)
                state.queuedBytes += pending.bytes
                guard !state.draining else { return .success(false) }
                state.draining = true
                return .success(true)
            }
            switch admitted {
            case .failure(let overload): continuation.resume(throwing: overload)
            case .success(true): committer.async { self.drain() }
            case .success(false): break
            }
        }
        guard let value = box.value else { throw GroupCommitError.noResult }
        return value
    }

    /// How many writes are waiting for the committer (tests wait for a queue to fill).
    var queuedCount: Int { state.withLock { $0.queue.count } }

    /// Commits batches until the queue is empty. Runs on `committer` only.
    private func drain() {
        while true {
            let batch = state.withLock { state -> [Pending] in
                let count = min(state.queue.count, maximumBatch)
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                state.queuedBytes -= batch.reduce(0) { $0 + $1.bytes }
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
            } catch let error where Self.isTheDatabases(error) {
                let answer = Self.answer(for: error, retryAfter: limits.retryAfter)
                for pending in batch { pending.answer(answer) }
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
    /// Failures of the database rather than of one write: retrying the writes one by one would only repeat them.
    static func isTheDatabases(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        switch error.resultCode.primaryResultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_CANTOPEN,
            .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return true
        default:
            return false
        }
    }

    /// A busy database is overload (try again shortly); the rest are failures of the store (503 all the same).
    static func answer(for error: any Error, retryAfter: Duration) -> any Error {
        guard let error = error as? DatabaseError else { return error }
        switch error.resultCode.primaryResultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreOverloaded(retryAfter: retryAfter, reason: "the database is busy (\(error.resultCode))")
        default:
            return error
        }
    }

    /// After a commit: wakes the background checkpoint, or checkpoints here when it has fallen behind.
    private func committed() {
        guard checkpointer.committed() else { return }
        checkpointer.checkpointOnCommitter(writer)
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
