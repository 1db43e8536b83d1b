public import AsyncHTTPClient
public import FieldgateCore
import FieldgateModel
import NIOCore
import NIOHTTP1
import Synchronization

/// `fieldgate replay`: sends corpus requests to a gateway and measures what comes back.
///
/// Closed loop keeps `concurrency` requests in flight, each sent when the previous one of its worker is answered.
/// Open loop sends at a fixed `rate` on a schedule decided in advance and measures each latency from the request's
/// *intended* start, so a stalled server shows as latency rather than as fewer requests.
public struct Replay: Sendable {
    public enum Load: Sendable, Equatable {
        case closed(concurrency: Int)
        case open(rate: Double, maximumInFlight: Int)
    }

    public struct Options: Sendable {
        public var target: String
        public var load: Load = .closed(concurrency: 16)
        /// Stop after this long (open loop: the schedule's length). Nil: when `repeat` passes are done.
        public var duration: Duration?
        /// Passes over the corpus; nil with a duration: as many as fit.
        public var repeatCount: Int?
        public var shuffle = false
        public var varyIDs = false
        public var seed: UInt64 = 1
        public var timeout: Duration = .seconds(30)

        public init(target: String) {
            self.target = target
        }
    }

    public let requests: [CorpusRequest]
    public let options: Options
    /// Each request's headers as the client sends them, built once rather than per request.
    let headers: [HTTPHeaders]

    public init(requests: [CorpusRequest], options: Options) {
        self.requests = requests
        self.options = options
        headers = requests.map { request in
            var headers = HTTPHeaders()
            for field in request.headers {
                let name = field.name.lowercased()
                guard name != "content-length", name != "transfer-encoding", name != "host" else { continue }
                headers.add(name: field.name, value: field.value)
            }
            return headers
        }
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
    func request(at index: Int, orders: RunState) -> (CorpusRequest, HTTPHeaders) {
        let pass = index / requests.count
        let position = index % requests.count
        let order = orders.orders.withLock { orders -> [Int] in
            if let known = orders[pass] { return known }
            let made = self.order(pass: pass)
            orders[pass] = made
            if orders.count > 4 { orders[pass - 4] = nil }
            return made
        }
        let request = requests[order[position]]
        return (options.varyIDs ? IDVariation.vary(request, repetition: pass) : request, headers[order[position]])
    }

    /// Runs the replay; `progress` is called about once a second with the report so far.
    public func run(
        client: HTTPClient,
        progress: @escaping @Sendable (ReplayReport) -> Void = { _ in }
    ) async throws -> ReplayReport {
        precondition(!requests.isEmpty, "a replay needs at least one request")
        let state = RunState()
        let started = ContinuousClock.now
        let deadline = options.duration.map { started + $0 }
        let planned = plannedCount

        try await withThrowingTaskGroup(of: Void.self) { group in
            let reporter = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    var snapshot = state.report.withLock { $0 }
                    snapshot.elapsed = ContinuousClock.now - started
                    progress(snapshot)
                }
            }
            defer { reporter.cancel() }
            switch options.load {
            case .closed(let concurrency):
                for _ in 0..<concurrency {
                    group.addTask {
                        while true {
                            if let deadline, ContinuousClock.now >= deadline { return }
                            let index = state.next.withLock { value -> Int in
                                defer { value += 1 }
                                return value
                            }
                            if let planned, index >= planned { return }
                            let request = self.request(at: index, orders: state)
                            let intended = ContinuousClock.now
                            await self.send(request, intended: intended, client: client, into: state)
                        }
                    }
                }
                try await group.waitForAll()
            case .open(let rate, let maximumInFlight):
                let schedule = OpenLoopSchedule(rate: rate)
                var index = 0
                var inFlight = 0
                while planned.map({ index < $0 }) ?? true {
                    let intended = started + schedule.offset(of: index)
                    if let deadline, intended >= deadline { break }
                    if intended > ContinuousClock.now { try await Task.sleep(until: intended, clock: .continuous) }
                    if inFlight >= maximumInFlight {
                        try await group.next()
                        inFlight -= 1
                    }
                    // Preparing the request (and varying its IDs) happens in the child task: the scheduler only
                    // keeps time, so it is never the reason a request starts late.
                    let scheduled = index
                    group.addTask {
                        let request = self.request(at: scheduled, orders: state)
                        await self.send(request, intended: intended, client: client, into: state)
                    }
                    inFlight += 1
                    index += 1
                }
                try await group.waitForAll()
            }
        }
        var report = state.report.withLock { $0 }
        report.elapsed = ContinuousClock.now - started
        return report
    }

    /// Sends one request and records its answer with the latency from `intended`.
    func send(
        _ prepared: (CorpusRequest, HTTPHeaders),
        intended: ContinuousClock.Instant,
        client: HTTPClient,
        into state: RunState
    ) async {
        let (corpus, headers) = prepared
        var request = HTTPClientRequest(url: options.target + corpus.path)
        request.method = HTTPMethod(rawValue: corpus.method)
        request.headers = headers
        if !corpus.body.isEmpty { request.body = .bytes(ByteBuffer(bytes: corpus.body)) }
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Self.nanoseconds(options.timeout)))
            let body = try await response.body.collect(upTo: 1 << 20)
            let latency = ContinuousClock.now - intended
            let status = Int(response.status.code)
            var outcome: String?
            if status == 202 {
                let prefix = String(buffer: body.getSlice(at: body.readerIndex, length: min(body.readableBytes, 24)) ?? body)
                outcome = prefix.hasPrefix(#"{"status":"duplicate""#) ? "duplicate" : "accepted"
            }
            state.report.withLock { $0.record(status: status, outcome: outcome, latency: latency) }
        } catch {
            let latency = ContinuousClock.now - intended
            state.report.withLock { $0.recordFailure(latency: latency) }
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// What the workers of one run share.
final class RunState: Sendable {
    let report = Mutex(ReplayReport())
    let next = Mutex(0)
    /// The corpus order of the passes in use (shuffled runs), kept for a few passes.
    let orders = Mutex<[Int: [Int]]>([:])
}

/// SplitMix64: small, fast and the same on every machine, so a seed names one corpus or one shuffle everywhere.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
