import FieldgateModel
package import Logging
import ServiceLifecycle

/// Adds what the ``IngestTally`` counted to the store every few seconds, and once more at shutdown.
///
/// A crash loses at most one interval of counts (the events themselves are never at stake); a graceful stop
/// loses none. Counts older than `keep` are deleted as it goes, so the table stays a few days of minutes.
package struct IngestCountFlush: Service {
    package let tally: IngestTally
    package let store: any IngestCountStore
    package let clock: any WallClock
    package let interval: Duration
    package let keep: Duration
    package let logger: Logger

    package init(
        tally: IngestTally,
        store: any IngestCountStore,
        clock: any WallClock,
        interval: Duration = .seconds(5),
        keep: Duration = .seconds(8 * 86_400),
        logger: Logger
    ) {
        self.tally = tally
        self.store = store
        self.clock = clock
        self.interval = interval
        self.keep = keep
        self.logger = logger
    }

    package func run() async throws {
        var passes = 0
        repeat {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            await flush()
            passes += 1
            if passes % 720 == 1 { await deleteOld() }
        } while !Task.isShuttingDownGracefully && !Task.isCancelled
        // Whatever was counted while the last flush ran.
        await flush()
    }

    /// Stores what was counted so far; on failure the counts go back into the tally for the next try.
    package func flush() async {
        let counts = tally.drain()
        guard !counts.isEmpty else { return }
        do {
            try await store.addIngestCounts(counts)
        } catch {
            tally.restore(counts)
            logger.error("storing ingest counts failed", metadata: ["error": "\(error)"])
        }
    }

    func deleteOld() async {
        let before = IngestCount.minute(of: clock.now()) - keep.milliseconds / 60_000
        do {
            _ = try await store.deleteIngestCounts(beforeMinute: before)
        } catch {
            logger.error("deleting old ingest counts failed", metadata: ["error": "\(error)"])
        }
    }
}
