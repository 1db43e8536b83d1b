import Benchmark
import FieldgateCore
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import Synchronization

// The durable write path: new events inserted through the SQLite store (WAL, synchronous=FULL) by 64 concurrent
// writers, so that group commit shares transactions and fsyncs the way a loaded server does. Wall clock depends on
// the disk; malloc counts per event are the thresholded metric.

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .microseconds,
        maxDuration: .seconds(5),
        maxIterations: 200,
        thresholds: [.mallocCountTotal: .init(relative: [.p90: 10], absolute: [.p90: 200])]
    )

    let directory = try! TemporaryDirectory()
    let store = try! SQLiteEventStore(path: directory.path("bench.db"))
    let counter = Counter()

    Benchmark(named("SQLite insertIfNew, 64 concurrent new events")) { benchmark in
        for _ in benchmark.scaledIterations {
            let base = counter.next(64)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for offset in 0..<64 {
                    group.addTask {
                        _ = try await store.insertIfNew(StoreSamples.candidate(content: "bench \(base + offset)"))
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    Benchmark(named("SQLite insertIfNew, duplicate")) { benchmark in
        let candidate = StoreSamples.candidate(content: "the same delivery")
        _ = try await store.insertIfNew(candidate)
        for _ in benchmark.scaledIterations {
            blackHole(try await store.insertIfNew(candidate))
        }
    }
}

/// Hands out fresh content numbers so every iteration inserts new events.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next(_ count: Int) -> Int {
        value.withLock { value in
            defer { value += count }
            return value
        }
    }
}

/// package-benchmark 1.38 writes `thresholds update` files with spaces turned into underscores but looks them up
/// by the raw name in `thresholds check`; names without spaces make the committed thresholds checkable.
func named(_ title: String) -> String {
    String(title.map { $0 == " " ? "_" : $0 })
}
