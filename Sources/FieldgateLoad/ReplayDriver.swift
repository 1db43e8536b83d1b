import FieldgateCore
import FieldgateModel
import NIOCore
import NIOHTTP1

/// Where a replay sends: `http://host[:port][/base]`, the base path put before every corpus path.
package struct ReplayTarget: Sendable {
    package var host: String
    package var port: Int
    package var basePath: String

    package init(_ url: String) throws(ReplayTargetError) {
        guard url.hasPrefix("http://") else {
            throw ReplayTargetError(
                "the target must be an http:// URL (the replay tool speaks plain HTTP/1.1; measure TLS at the "
                    + "terminator's backend)"
            )
        }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        basePath = String(rest.dropFirst(authority.count))
        while basePath.hasSuffix("/") { basePath.removeLast() }
        if let colon = authority.lastIndex(of: ":") {
            guard let port = Int(authority[authority.index(after: colon)...]), (1...65_535).contains(port) else {
                throw ReplayTargetError("the target's port is not a number from 1 to 65535")
            }
            self.port = port
            host = String(authority[..<colon])
        } else {
            port = 80
            host = String(authority)
        }
        guard !host.isEmpty else { throw ReplayTargetError("the target has no host") }
    }

    /// The request's head and body as sent: its own headers but framing and `Host`, which are the tool's.
    func wireRequest(_ request: CorpusRequest) -> WireRequest {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: port == 80 ? host : "\(host):\(port)")
        for field in request.headers {
            let name = field.name.lowercased()
            guard name != "content-length", name != "transfer-encoding", name != "host" else { continue }
            headers.add(name: field.name, value: field.value)
        }
        if !request.body.isEmpty || request.method == "POST" || request.method == "PUT" {
            headers.add(name: "Content-Length", value: String(request.body.count))
        }
        let head = HTTPRequestHead(
            version: .http1_1,
            method: HTTPMethod(rawValue: request.method),
            uri: basePath + request.path,
            headers: headers
        )
        return WireRequest(head: head, body: request.body.isEmpty ? nil : ByteBuffer(bytes: request.body))
    }
}

package struct ReplayTargetError: Error, Sendable, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}

/// One run of a ``Replay``: connections, schedule and report, all on one event loop.
///
/// Closed loop: each of `concurrency` connections sends its next request as soon as the previous one is answered.
/// Open loop: request `i` is due at `start + i / rate`; a due request goes out on an idle connection (up to
/// `maximumInFlight` of them) or waits for one, and its latency counts from when it was due either way.
final class ReplayDriver: @unchecked Sendable {
    private let replay: Replay
    private let loop: any EventLoop
    private let progress: @Sendable (ReplayReport) -> Void
    private let state = RunState()
    private let timeout: TimeAmount
    private var report = ReplayReport()
    private var started = NIODeadline.now()
    private var deadline: NIODeadline?
    private var planned: Int?
    private var next = 0
    private var outstanding = 0
    private var connections: [ReplayConnection] = []
    private var idle: [ReplayConnection] = []
    /// Open loop: due requests waiting for a connection, oldest first (`backlogStart` is the next to go).
    private var backlog: [(index: Int, intended: NIODeadline)] = []
    private var backlogStart = 0
    private var scheduling = true
    private var workers = 0
    private var ticker: RepeatedTask?
    private var promise: EventLoopPromise<ReplayReport>?

    init(replay: Replay, loop: any EventLoop, progress: @escaping @Sendable (ReplayReport) -> Void) {
        self.replay = replay
        self.loop = loop
        self.progress = progress
        timeout = .nanoseconds(Self.nanoseconds(replay.options.timeout))
    }

    /// Starts the run on `loop`; the future completes with the report when the last answer is in.
    func start() -> EventLoopFuture<ReplayReport> {
        loop.preconditionInEventLoop()
        let promise = loop.makePromise(of: ReplayReport.self)
        self.promise = promise
        started = .now()
        deadline = replay.options.duration.map { started + .nanoseconds(Self.nanoseconds($0)) }
        planned = replay.plannedCount
        ticker = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
            var snapshot = report
            snapshot.elapsed = .nanoseconds((NIODeadline.now() - started).nanoseconds)
            progress(snapshot)
        }
        switch replay.options.load {
        case .closed(let concurrency):
            workers = concurrency
            for _ in 0..<concurrency {
                let connection = makeConnection()
                pump(connection)
            }
        case .open:
            scheduleFrom(0)
        }
        return promise.futureResult
    }

    private func makeConnection() -> ReplayConnection {
        let connection = ReplayConnection(
            loop: loop,
            host: replay.target.host,
            port: replay.target.port,
            timeout: timeout
        )
        connections.append(connection)
        return connection
    }

    // MARK: Closed loop

    private func pump(_ connection: ReplayConnection) {
        let now = NIODeadline.now()
        let index = next
        if let deadline, now >= deadline { return workerDone() }
        if let planned, index >= planned { return workerDone() }
        next += 1
        send(index, intended: now, on: connection) { [self] in pump(connection) }
    }

    private func workerDone() {
        workers -= 1
        if workers == 0 { finish() }
    }

    // MARK: Open loop

    private func scheduleFrom(_ first: Int) {
        guard case .open(let rate, let maximumInFlight) = replay.options.load else { return }
        let schedule = OpenLoopSchedule(rate: rate)
        var index = first
        var burst = 0
        while true {
            if let planned, index >= planned { return schedulingDone() }
            let intended = started + .nanoseconds(Self.nanoseconds(schedule.offset(of: index)))
            if let deadline, intended >= deadline { return schedulingDone() }
            if intended > .now() {
                let resume = index
                loop.scheduleTask(deadline: intended) { [self] in scheduleFrom(resume) }
                return
            }
            dispatch(index, intended: intended, maximumInFlight: maximumInFlight)
            index += 1
            burst += 1
            // A late schedule catches up in slices, so that answers are read in between.
            if burst == 256 {
                let resume = index
                loop.execute { [self] in scheduleFrom(resume) }
                return
            }
        }
    }

    private func dispatch(_ index: Int, intended: NIODeadline, maximumInFlight: Int) {
        if let connection = idle.popLast() {
            openLoopSend(index, intended: intended, on: connection)
        } else if connections.count < maximumInFlight {
            openLoopSend(index, intended: intended, on: makeConnection())
        } else {
            backlog.append((index, intended))
        }
    }

    private func openLoopSend(_ index: Int, intended: NIODeadline, on connection: ReplayConnection) {
        send(index, intended: intended, on: connection) { [self] in
            if backlogStart < backlog.count {
                let waiting = backlog[backlogStart]
                backlogStart += 1
                if backlogStart > 1_024, backlogStart * 2 > backlog.count {
                    backlog.removeFirst(backlogStart)
                    backlogStart = 0
                }
                openLoopSend(waiting.index, intended: waiting.intended, on: connection)
            } else {
                idle.append(connection)
                if !scheduling && outstanding == 0 { finish() }
            }
        }
    }

    private func schedulingDone() {
        scheduling = false
        if outstanding == 0 && backlogStart == backlog.count { finish() }
    }

    // MARK: Both

    private func send(_ index: Int, intended: NIODeadline, on connection: ReplayConnection, then: @escaping () -> Void)
    {
        outstanding += 1
        connection.send(replay.request(at: index, orders: state)) { [self] answer in
            let latency = Duration.nanoseconds((NIODeadline.now() - intended).nanoseconds)
            switch answer {
            case .answered(let status, let prefix):
                var outcome: String?
                if status == 202 {
                    outcome = prefix.starts(with: #"{"status":"duplicate""#.utf8) ? "duplicate" : "accepted"
                }
                report.record(status: status, outcome: outcome, latency: latency)
            case .failed:
                report.recordFailure(latency: latency)
            }
            outstanding -= 1
            then()
        }
    }

    private func finish() {
        guard let promise else { return }
        self.promise = nil
        ticker?.cancel()
        for connection in connections { connection.close() }
        report.elapsed = .nanoseconds((NIODeadline.now() - started).nanoseconds)
        promise.succeed(report)
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
