package import FieldgateCore
import FieldgateModel
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// `fieldgate replay`: sends corpus requests to a gateway and measures what comes back.
///
/// Closed loop keeps `concurrency` requests in flight, each sent when the previous one of its worker is answered.
/// Open loop sends at a fixed `rate` on a schedule decided in advance and measures each latency from the request's
/// *intended* start, so a stalled server shows as latency rather than as fewer requests.
package struct Replay: Sendable {
    package enum Load: Sendable, Equatable {
        case closed(concurrency: Int)
        case open(rate: Double, maximumInFlight: Int)
    }

    package struct Options: Sendable {
        package var target: String
        package var load: Load = .closed(concurrency: 16)
        /// Stop after this long (open loop: the schedule's length). Nil: when `repeat` passes are done.
        package var duration: Duration?
        /// Passes over the corpus; nil with a duration: as many as fit.
        package var repeatCount: Int?
        package var shuffle = false
        package var varyIDs = false
        package var seed: UInt64 = 1
        package var timeout: Duration = .seconds(30)

        package init(target: String) {
            self.target = target
        }
    }

    package let requests: [CorpusRequest]
    package let options: Options
    let target: ReplayTarget
    /// Each corpus request as it goes on the wire, built once rather than per send.
    let wire: [WireRequest]

    /// Throws ``ReplayTargetError`` when `options.target` is not an `http://host[:port][/path]` URL.
    package init(requests: [CorpusRequest], options: Options) throws(ReplayTargetError) {
        self.requests = requests
        self.options = options
        let target = try ReplayTarget(options.target)
        self.target = target
        wire = requests.map { target.wireRequest($0) }
    }

    /// How many requests the run sends at most (nil: until the duration is over).
    var plannedCount: Int? {
        switch options.load {
        case .open(let rate, _):
            if let duration = options.duration { return OpenLoopSchedule(rate: rate).count(in: duration) }
            return (options.repeatCount ?? 1) * requests.count
        case .closed:
            if let repeatCount = options.repeatCount { return repeatCount * requests.count }
            return options.duration == nil ? requests.count : nil
        }
    }

    /// The corpus order of one pass: as written, or shuffled deterministically by seed and pass.
    func order(pass: Int) -> [Int] {
        var indices = Array(requests.indices)
        guard options.shuffle else { return indices }
        var generator = SeededGenerator(seed: options.seed &+ UInt64(pass) &* 0x9E37_79B9_7F4A_7C15)
        indices.shuffle(using: &generator)
        return indices
    }

    /// The `index`-th request of the run.
    func request(at index: Int, orders: RunState) -> WireRequest {
        let pass = index / requests.count
        let position = index % requests.count
        let order = orders.orders.withLock { orders -> [Int] in
            if let known = orders[pass] { return known }
            let made = self.order(pass: pass)
            orders[pass] = made
            if orders.count > 4 { orders[pass - 4] = nil }
            return made
        }
        let chosen = order[position]
        guard options.varyIDs, pass > 0 else { return wire[chosen] }
        return target.wireRequest(IDVariation.vary(requests[chosen], repetition: pass))
    }

    /// Runs the replay; `progress` is called about once a second with the report so far.
    ///
    /// Every connection lives on one event loop of NIO's shared group, driven by callbacks: the tool runs on the
    /// same cores as the gateway it measures, and a task and two thread hops per request cost it as much CPU as the
    /// gateway spends on the request (≈ 300 µs with AsyncHTTPClient, see docs/PERFORMANCE.md).
    package func run(progress: @escaping @Sendable (ReplayReport) -> Void = { _ in }) async throws -> ReplayReport {
        precondition(!requests.isEmpty, "a replay needs at least one request")
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let driver = ReplayDriver(replay: self, loop: loop, progress: progress)
        return try await loop.flatSubmit { driver.start() }.get()
    }
}

/// What the requests of one run share.
final class RunState: Sendable {
    /// The corpus order of the passes in use (shuffled runs), kept for a few passes.
    let orders = Mutex<[Int: [Int]]>([:])
}

/// SplitMix64: small, fast and the same on every machine, so a seed names one corpus or one shuffle everywhere.
package struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    package init(seed: UInt64) {
        state = seed
    }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
