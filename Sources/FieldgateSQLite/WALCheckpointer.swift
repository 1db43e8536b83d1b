import Dispatch
import GRDB
import Synchronization

/// Copies the write-ahead log into the database file from a connection of its own, so that commits do not wait.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold: with `synchronous=FULL` that
/// commit copies a thousand pages and fsyncs the database file while every writer queued behind the committer
/// waits — the tens-of-milliseconds tail of every durable measurement. Here the writer's automatic checkpoint is
/// off and a passive checkpoint runs on a second connection after commits, coalesced: a passive checkpoint takes
/// no lock that a writer needs, so commits go on while it copies. SQLite restarts the log from its beginning at
/// the first commit after a checkpoint that caught up.
///
/// A passive checkpoint can keep missing the moment a writer that never pauses has nothing new; the log would then
/// never restart and grow without bound. When a checkpoint finds more than ``committerThreshold`` frames in the log,
/// the committer checkpoints after its next commits instead, where no new frame can arrive meanwhile, until one of
/// those copies the whole log — the old behaviour, kept for that case only.
final class WALCheckpointer: Sendable {
    /// Frames (pages) in the log that make the committer checkpoint itself: 8,192 frames are 32 MiB of 4 KiB pages.
    let committerThreshold: Int
    private let connection: DatabaseQueue
    private let queue = DispatchQueue(label: "fieldgate.sqlite.checkpoint")
    private let state = Mutex(State())

    private struct State {
        var scheduled = false
        var committerMustCheckpoint = false
    }

    init(path: String, configuration: Configuration, committerThreshold: Int = 8_192) throws {
        var configuration = configuration
        configuration.label = "fieldgate.checkpoint"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.committerThreshold = committerThreshold
    }

    /// Called on the committer after each committed batch; true when the committer must checkpoint itself.
    func committed() -> Bool {
        let (schedule, committerMust) = state.withLock { state -> (Bool, Bool) in
            guard !state.scheduled else { return (false, state.committerMustCheckpoint) }
            state.scheduled = true
            return (true, state.committerMustCheckpoint)
        }
        if schedule { queue.async { self.checkpoint() } }
        return committerMust
    }

    /// The committer's checkpoint is done once it copied the whole log (the next commit then restarts it); until
    /// then — the background pass was running (SQLite runs one checkpoint at a time, the other gets `SQLITE_BUSY`
    /// at once), or a reader still needs old frames — it tries again after the next commit, and copies only what
    /// the background pass has not.
    func committerCheckpointed(_ result: (walFrameCount: Int, checkpointedFrameCount: Int)?) {
        guard let result, result.walFrameCount == result.checkpointedFrameCount else { return }
        state.withLock { $0.committerMustCheckpoint = false }
    }

    private func checkpoint() {
        state.withLock { $0.scheduled = false }
        // A checkpoint that finds another running (SQLITE_BUSY) is simply skipped: the next commit schedules one.
        let result = try? connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
        if let result, result.walFrameCount > committerThreshold {
            state.withLock { $0.committerMustCheckpoint = true }
        }
    }
}
