import Dispatch
import GRDB
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Copies the write-ahead log into the database file from a connection of its own, so that commits do not wait.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold: with `synchronous=FULL` that
/// commit copies a thousand pages and fsyncs the database file while every writer queued behind the committer
/// waits — the tens-of-milliseconds tail of every durable measurement. Here the writer's automatic checkpoint is
/// off and a passive checkpoint runs on a second connection after commits, coalesced: a passive checkpoint takes
/// no lock that a writer needs, so commits go on while it copies. SQLite restarts the log from its beginning at
/// the first commit that begins after a checkpoint caught up.
///
/// A writer that never pauses begins its next commit before a background pass can catch up, so the log would
/// never restart and grow without bound. When the log passes ``committerThreshold`` frames, the committer
/// checkpoints after its commits instead, where no new frame can arrive meanwhile, until one of those copies the
/// whole log — the old behaviour, kept for that case only. The committer learns it from the log file itself: the
/// file grows only when the log reaches past everything it held before, so a file that grows beyond the
/// threshold is a log that long, whatever the background pass has or has not seen yet (a pass that took long,
/// on a busy machine, used to let the log run to twice the threshold).
final class WALCheckpointer: Sendable {
    /// Frames (pages) in the log that make the committer checkpoint itself: 8,192 frames are 32 MiB of 4 KiB pages.
    let committerThreshold: Int
    private let connection: DatabaseQueue
    private let logPath: String
    private let queue = DispatchQueue(label: "fieldgate.sqlite.checkpoint")
    private let state = Mutex(State())

    private struct State {
        var scheduled = false
        var committerMustCheckpoint = false
        /// The log file's size after the last commit: it grows when the log outgrows it.
        var logFileBytes = 0
    }

    init(path: String, configuration: Configuration, committerThreshold: Int = 8_192) throws {
        var configuration = configuration
        configuration.label = "fieldgate.checkpoint"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.committerThreshold = committerThreshold
        logPath = path + "-wal"
    }

    /// Called on the committer after each committed batch; true when the committer must checkpoint itself.
    ///
    /// While the committer must, no background pass is scheduled: a pass started after every commit is what the
    /// committer would otherwise always find running, and its checkpoint would keep failing with `SQLITE_BUSY`
    /// (SQLite runs one checkpoint at a time) while the log grows.
    func committed() -> Bool {
        let logFileBytes = Self.fileSize(logPath)
        let schedule = state.withLock { state -> Bool? in
            if logFileBytes > state.logFileBytes && logFileBytes > committerThreshold * 4096 {
                state.committerMustCheckpoint = true
            }
            state.logFileBytes = logFileBytes
            guard !state.committerMustCheckpoint else { return nil }
            guard !state.scheduled else { return false }
            state.scheduled = true
            return true
        }
        guard let schedule else { return true }
        if schedule { queue.async { self.checkpoint() } }
        return false
    }

    /// The committer's own checkpoint, after one of its commits.
    ///
    /// It runs on the background pass's queue, so it waits for a pass still in flight instead of colliding with
    /// it. It is done once it copied the whole log (the next commit then restarts the log); a reader that still
    /// needs old frames can keep it from that, and then it tries again after the next commit, copying only what
    /// is left.
    func checkpointOnCommitter(_ writer: DatabasePool) {
        let result = queue.sync { try? writer.writeWithoutTransaction { try $0.checkpoint(.passive) } }
        guard let result, result.walFrameCount == result.checkpointedFrameCount else { return }
        state.withLock { $0.committerMustCheckpoint = false }
    }

    private func checkpoint() {
        state.withLock { $0.scheduled = false }
        // A checkpoint that finds another running (SQLITE_BUSY) is simply skipped: the next commit schedules one.
        let result = try? connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
        // A log file left long by an earlier run does not grow until the log passes it: the pass still sees it.
        if let result, result.walFrameCount > committerThreshold {
            state.withLock { $0.committerMustCheckpoint = true }
        }
    }

    /// The file's size in bytes, 0 when it does not exist (one `stat` per commit, beside the commit's fsync).
    private static func fileSize(_ path: String) -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else { return 0 }
        return Int(status.st_size)
    }
}
