import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Runs work on a pooled connection, in a transaction or not, with bounds on every wait.
///
/// While PostgreSQL is down the pool keeps trying to connect in the background; a request for a connection would
/// wait up to the pool's circuit breaker (15 s) before failing. The gateway should answer 503 long before a vendor
/// times out, and should not pile up waiting requests, so the wait for a connection is cut at ``acquireTimeout``.
///
/// Work that has its connection is bounded too, by ``workTimeout``, as a backstop: postgres-nio 1.33 writes a query
/// to its channel without a promise, so a query issued on a connection whose channel has just been torn down is
/// never answered. The transaction code here never issues COMMIT or ROLLBACK on a connection it knows is closed
/// (the common way into that state); if work still hangs, the caller gets an error after the backstop and the stuck
/// task is left to itself (it holds one pooled connection, and is logged).
struct PostgresTransactions: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// How long a caller waits for a connection before the store counts as unavailable.
    let acquireTimeout: Duration
    /// How long work on a connection may take before it is abandoned (longer than the session's `lock_timeout`, and
    /// than any batch of a healthy database, so that only work that got no answer at all is cut).
    var workTimeout: Duration = .seconds(15)
    /// For work that is long by nature: a recovery over months of events, a store copy's batches, retention.
    static let longWork = Duration.seconds(600)
    /// Work still running on a connection this long after the connection closed is abandoned: whatever it
    /// waits for will never come.
    static let afterClose = TimeAmount.milliseconds(500)
    /// The connections that work runs on, so that their closing cuts that work short.
    let watch = ConnectionWatch()

    /// `work` inside BEGIN … COMMIT; returns once COMMIT has returned.
    @discardableResult
    func run<Result: Sendable>(
        _ label: String,
        synchronousCommit: Bool = true,
        timeout: Duration? = nil,
        _ work: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let logger = self.logger
        return try await withConnection(label, timeout: timeout) { connection in
            try await Self.transaction(on: connection, synchronousCommit: synchronousCommit, logger: logger, work)
        }
    }

    /// BEGIN, `work`, COMMIT; ROLLBACK when `work` throws — unless the connection is closed, where ROLLBACK could
    /// never be answered (and the server has rolled back already).
    static func transaction<Result: Sendable>(
        on connection: PostgresConnection,
        synchronousCommit: Bool,
        logger: Logger,
        _ work: @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try checkOpen(connection)
        try await connection.perform("BEGIN", logger: logger)
        let result: Result
        do {
            if !synchronousCommit {
                // Only for writes whose loss in a database crash is harmless (a lease: the delivery is sent
                // again, with the same webhook-id).
                try await connection.perform("SET LOCAL synchronous_commit TO off", logger: logger)
            }
            result = try await work(connection)
            try checkOpen(connection)
        } catch {
            if !connection.isClosed { _ = try? await connection.query("ROLLBACK", logger: logger) }
            throw error
        }
        // PostgreSQL answers COMMIT in a transaction it has aborted with ROLLBACK, not with an error.
        try checkCommitted(try await connection.send("COMMIT", logger: logger).get())
        return result
    }

    static func checkOpen(_ connection: PostgresConnection) throws {
        guard !connection.isClosed else { throw PostgresUnavailable(operation: "a closed connection", timeout: .zero) }
    }

    /// `work` on a connection of the pool, outside any explicit transaction (reads).
    ///
    /// `timeout` replaces ``workTimeout`` for work that is long by nature (a recovery over months, a store copy).
    func withConnection<Result: Sendable>(
        _ label: String,
        timeout: Duration? = nil,
        _ work: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let race = Race<Result>()
        let client = self.client
        let logger = self.logger
        let acquireTimeout = self.acquireTimeout
        let workTimeout = timeout ?? self.workTimeout
        let watch = self.watch
        return try await withCheckedThrowingContinuation { continuation in
            race.begin(continuation)
            // Unstructured on purpose: the caller must be able to return while a hung query is never answered.
            let worker = Task {
                do {
                    let result = try await client.withConnection { connection in
                        guard race.startWork() else {
                            throw PostgresUnavailable(operation: label, timeout: acquireTimeout)
                        }
                        let token = watch.begin(on: connection) {
                            race.abandonWorking(PostgresUnavailable(operation: label, timeout: .zero))
                        }
                        defer { watch.end(token, on: connection) }
                        try Self.checkOpen(connection)
                        return try await work(connection)
                    }
                    race.finish(.success(result))
                } catch {
                    race.finish(.failure(error))
                }
            }
            race.deadline = Task {
                try? await Task.sleep(for: acquireTimeout)
                if race.abandonWaiting(PostgresUnavailable(operation: label, timeout: acquireTimeout)) {
                    worker.cancel()  // withdraws the request for a connection
                    return
                }
                guard !race.isFinished else { return }
                try? await Task.sleep(for: workTimeout)
                if race.abandonWorking(PostgresStoreError("\(label) got no answer from PostgreSQL in \(workTimeout)")) {
                    logger.error(
                        "a PostgreSQL operation got no answer and was abandoned",
                        metadata: ["operation": "\(label)", "timeout": "\(workTimeout)"]
                    )
                }
            }
        }
    }

    /// A connection of the pool for as long as `body` runs (a group committer serving batch after batch on it):
    /// the wait for it is bounded by ``acquireTimeout``, the work is not (every answer it waits for is, through
    /// ``GuardedConnection``). Cancelling the caller cancels `body`.
    func holding<Result: Sendable>(
        _ label: String,
        _ body: @escaping @Sendable (GuardedConnection) async throws -> Result
    ) async throws -> Result {
        let race = Race<Result>()
        let client = self.client
        let logger = self.logger
        let acquireTimeout = self.acquireTimeout
        let watch = self.watch
        let workTimeout = self.workTimeout
        let worker = WorkerHandle()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.begin(continuation)
                worker.task = Task {
                    do {
                        let result = try await client.withConnection { connection in
                            guard race.startWork() else {
                                throw PostgresUnavailable(operation: label, timeout: acquireTimeout)
                            }
                            try Self.checkOpen(connection)
                            return try await body(
                                GuardedConnection(
                                    connection: connection,
                                    watch: watch,
                                    logger: logger,
                                    timeout: workTimeout
                                )
                            )
                        }
                        race.finish(.success(result))
                    } catch {
                        race.finish(.failure(error))
                    }
                }
                race.deadline = Task {
                    try? await Task.sleep(for: acquireTimeout)
                    if race.abandonWaiting(PostgresUnavailable(operation: label, timeout: acquireTimeout)) {
                        worker.task?.cancel()
                    }
                }
            }
        } onCancel: {
            worker.task?.cancel()
        }
    }

    private final class WorkerHandle: Sendable {
        private let state = Mutex<Task<Void, Never>?>(nil)
        var task: Task<Void, Never>? {
            get { state.withLock { $0 } }
            set {
                state.withLock { $0 = newValue }
            }
        }
    }

    /// Which of work, deadline and a closed connection answers the caller, exactly once.
    private final class Race<Result: Sendable>: Sendable {
        private enum Stage {
            case waiting
            case working
            case answered
        }

        private struct State {
            var stage = Stage.waiting
            var continuation: CheckedContinuation<Result, any Error>?
            var deadline: Task<Void, Never>?
        }

        private let state = Mutex(State())

        func begin(_ continuation: CheckedContinuation<Result, any Error>) {
            state.withLock { $0.continuation = continuation }
        }

        /// True when the work may use the connection it got (the wait for it has not been given up).
        func startWork() -> Bool {
            state.withLock { state in
                guard state.stage == .waiting else { return false }
                state.stage = .working
                return true
            }
        }

        var isFinished: Bool { state.withLock { $0.stage == .answered } }

        /// The deadline task; cancelled as soon as the work answers, so that no timer outlives its operation.
        var deadline: Task<Void, Never>? {
            get { state.withLock { $0.deadline } }
            set {
                let finished = state.withLock { state -> Bool in
                    state.deadline = newValue
                    return state.stage == .answered
                }
                if finished { newValue?.cancel() }
            }
        }

        func finish(_ result: Swift.Result<Result, any Error>) {
            answer(result, when: [.waiting, .working])
            state.withLock { $0.deadline }?.cancel()
        }

        func abandonWaiting(_ error: any Error) -> Bool { answer(.failure(error), when: [.waiting]) }

        @discardableResult
        func abandonWorking(_ error: any Error) -> Bool { answer(.failure(error), when: [.working]) }

        @discardableResult
        private func answer(_ result: Swift.Result<Result, any Error>, when stages: [Stage]) -> Bool {
            let continuation = state.withLock { state -> CheckedContinuation<Result, any Error>? in
                guard stages.contains(state.stage) else { return nil }
                state.stage = .answered
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume(with: result)
            return continuation != nil
        }
    }
}

extension PostgresConnection {
    /// Runs a statement whose rows are not wanted and reads its answer to the end.
    ///
    /// postgres-nio answers `query` for a statement that returns rows (any `SELECT`) once PostgreSQL has bound it,
    /// before it runs: a failure while it runs — a lock timeout, a constraint, an aborted transaction — arrives
    /// with the rows, and a caller that never reads them carries on as if the statement had succeeded (a migration
    /// without its lock; a transaction PostgreSQL has already aborted, whose COMMIT then quietly rolls back). Every
    /// statement here whose answer is not read goes through this.
    func perform(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }

    /// Sends `query` now and answers later. Queries sent one after another go out in that order and each runs as
    /// soon as the one before it has answered, without a trip through the calling task in between: a transaction
    /// whose statements do not need each other's answers costs one wait, not one per statement.
    func send(_ query: PostgresQuery, logger: Logger) -> EventLoopFuture<PostgresQueryResult> {
        self.query(query, logger: logger)
    }
}

extension PostgresTransactions {
    /// Sends `statements` back to back, then waits for every answer; throws the first failure. The last statement
    /// is normally `COMMIT`: when an earlier one failed, PostgreSQL answers it with `ROLLBACK`, so nothing is half
    /// done and the earlier failure is what the caller sees.
    @discardableResult
    static func pipeline(
        _ statements: [PostgresQuery],
        on connection: GuardedConnection
    ) async throws -> [PostgresQueryResult] {
        try checkOpen(connection.connection)
        let answers = statements.map { connection.send($0) }
        var results: [PostgresQueryResult] = []
        var failure: (any Error)?
        for answer in answers {
            do {
                results.append(try await answer.get())
            } catch {
                if failure == nil { failure = error }
            }
        }
        if let failure { throw failure }
        return results
    }

    /// Throws unless `result` is a COMMIT that committed (PostgreSQL answers COMMIT in a failed transaction with
    /// `ROLLBACK`).
    static func checkCommitted(_ result: PostgresQueryResult?) throws {
        guard result?.metadata.command == "COMMIT" else {
            throw PostgresStoreError("the transaction was rolled back (\(result?.metadata.command ?? "no answer"))")
        }
    }

    /// Ends a transaction that failed part-way: ROLLBACK unless the connection is gone (the server rolled back).
    static func abandon(on connection: GuardedConnection) async {
        guard !connection.connection.isClosed else { return }
        _ = try? await connection.send("ROLLBACK").get()
    }
}

/// A pooled connection whose every answer is bounded: by ``timeout``, and by the connection closing (then within
/// ``PostgresTransactions/afterClose``). postgres-nio 1.33 never answers a query written to a torn-down channel;
/// here such a query fails instead, so that whoever waits for it — a group committer on a connection it keeps —
/// is never stuck.
struct GuardedConnection: Sendable {
    let connection: PostgresConnection
    let watch: ConnectionWatch
    let logger: Logger
    let timeout: Duration

    /// Sends now, answers later (see ``PostgresConnection/send(_:logger:)``), never later than the bounds.
    func send(_ query: PostgresQuery) -> EventLoopFuture<PostgresQueryResult> {
        let eventLoop = connection.eventLoop
        let answer = AnswerOnce(eventLoop.makePromise(of: PostgresQueryResult.self))
        let connection = self.connection
        let token = watch.begin(on: connection) {
            answer.complete(.failure(PostgresUnavailable(operation: "a query on a closed connection", timeout: .zero)))
        }
        let limit = timeout
        let timer = eventLoop.scheduleTask(in: .nanoseconds(limit.nanoseconds)) {
            answer.complete(.failure(PostgresStoreError("a query got no answer from PostgreSQL in \(limit)")))
        }
        let watch = self.watch
        connection.send(query, logger: logger).whenComplete { result in
            timer.cancel()
            watch.end(token, on: connection)
            answer.complete(result)
        }
        return answer.future
    }

    /// The rows of `query`.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await send(query).get().rows
    }
}

/// A promise completed by whichever of several sources answers first.
private final class AnswerOnce: Sendable {
    private let promise: EventLoopPromise<PostgresQueryResult>
    private let done = Mutex(false)

    init(_ promise: EventLoopPromise<PostgresQueryResult>) { self.promise = promise }

    var future: EventLoopFuture<PostgresQueryResult> { promise.futureResult }

    func complete(_ result: Result<PostgresQueryResult, any Error>) {
        let first = done.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first { promise.completeWith(result) }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// Work running on each pooled connection, and what to do with it when the connection closes.
///
/// One close callback per connection (not one per operation, which would pile up on a connection that lives for
/// hours): when the connection closes, work still running on it half a second later is abandoned. That is the
/// postgres-nio 1.33 case where a query written to a torn-down channel is never answered; every other failure of a
/// closing connection answers its queries at once.
final class ConnectionWatch: Sendable {
    private struct State {
        var connections: [PostgresConnection.ID: [Int: @Sendable () -> Void]] = [:]
        var nextToken = 0
    }

    private let state = Mutex(State())

    func begin(on connection: PostgresConnection, abandon: @escaping @Sendable () -> Void) -> Int {
        let (token, first) = state.withLock { state -> (Int, Bool) in
            state.nextToken += 1
            let first = state.connections[connection.id] == nil
            state.connections[connection.id, default: [:]][state.nextToken] = abandon
            return (state.nextToken, first)
        }
        if first {
            let id = connection.id
            let eventLoop = connection.eventLoop
            connection.closeFuture.whenComplete { _ in
                eventLoop.scheduleTask(in: PostgresTransactions.afterClose) { self.closed(id) }
            }
        }
        return token
    }

    func end(_ token: Int, on connection: PostgresConnection) {
        state.withLock { _ = $0.connections[connection.id]?.removeValue(forKey: token) }
    }

    private func closed(_ id: PostgresConnection.ID) {
        let abandoned = state.withLock { $0.connections.removeValue(forKey: id).map { Array($0.values) } ?? [] }
        for abandon in abandoned { abandon() }
    }
}

/// No connection to PostgreSQL within the acquire timeout: the database is down, restarting or unreachable.
struct PostgresUnavailable: Error, CustomStringConvertible {
    var operation: String
    var timeout: Duration
    var description: String { "no PostgreSQL connection within \(timeout) (\(operation)); the database is unreachable" }
}

/// How a failure from postgres-nio is treated.
package enum PostgresFailure {
    /// True when the database could not be reached or went away: not running yet, restarting, refusing
    /// connections, a connection lost. A gateway starting waits for it; a request is answered 503.
    package static func isUnreachable(_ error: any Error) -> Bool {
        if error is PostgresUnavailable { return true }
        // The pool's own error type is not exported; its circuit breaker trips after connections kept failing.
        if String(reflecting: error).contains("connectionCreationCircuitBreakerTripped") { return true }
        guard let psql = psqlError(error) else { return false }
        switch psql.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
            return true
        case .server:
            // 57P01–57P03: shutting down, crash shutdown, starting up; 08: connection exceptions.
            let state = psql.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("57P") || state.hasPrefix("08")
        default:
            return false
        }
    }

    /// True when a statement failed on a working connection — bad data, a constraint — so that retrying the
    /// batch's writes one by one lets the others through. False for a lost connection, a database shutting down,
    /// a timeout: everything in the batch would fail the same way.
    static func isStatementFailure(_ error: any Error) -> Bool {
        guard let error = psqlError(error), error.code == .server else { return false }
        let state = error.serverInfo?[.sqlState] ?? ""
        // 08 connection, 40 serialization/deadlock, 53 resources, 57 operator intervention (shutdown), 58 system.
        return !["08", "40", "53", "57", "58"].contains(String(state.prefix(2)))
    }

    /// The PSQLError inside a transaction error, if any.
    static func psqlError(_ error: any Error) -> PSQLError? {
        if let error = error as? PSQLError { return error }
        if let error = error as? PostgresTransactionError {
            for inner in [error.closureError, error.commitError, error.beginError, error.rollbackError] {
                if let inner, let found = psqlError(inner) { return found }
            }
        }
        return nil
    }

    /// The server's SQLSTATE, when the server sent one.
    static func sqlState(_ error: any Error) -> String? {
        psqlError(error)?.serverInfo?[.sqlState]
    }
}
