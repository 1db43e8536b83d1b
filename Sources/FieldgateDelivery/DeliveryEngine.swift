package import AsyncHTTPClient
package import CoreMetrics
package import FieldgateCore
import FieldgateModel
package import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// Sends every pending delivery to its subscriber (CONTRACT §7), retries on schedule, dead-letters, and keeps the
/// order of each job's events per subscriber without holding back other jobs.
///
/// State lives in the ``DeliveryStore``: the engine claims due deliveries under a lease, sends them concurrently
/// (bounded overall and per subscriber), and records each attempt. After a crash the leases expire and the
/// deliveries go out again with the same `webhook-id` — at least once, never lost.
package final class DeliveryEngine: Service, Sendable {
    package struct Configuration: Sendable {
        /// Deliveries in flight at once, over all subscribers.
        package var maximumConcurrency = 64
        /// A claimed delivery is reserved for its subscriber's timeout plus this: a live sender is not overtaken, and
        /// after a crash the delivery is sent again that soon.
        package var leaseMargin: Duration = .seconds(5)
        /// How often an idle engine looks for work it was not told about. The store announces every commit (its
        /// own and, on a shared store, every instance's) and leases that run out are due times, so this is only a
        /// safety net for an announcement that was lost.
        package var idlePoll: Duration = .seconds(30)
        /// The longest `Retry-After` honoured.
        package var maximumRetryAfter: Duration = .seconds(36_000)
        /// How much of a response body is read: a receiver's answer says nothing the status does not, and one
        /// that streams forever must not hold the attempt or the memory.
        package var maximumResponseBytes = 16 * 1024
        /// A subscriber failing without a success for this long is disabled (`delivery.disableAfter`).
        package var disableAfter: Duration? = .seconds(5 * 86_400)
        /// Where deliveries may go (`delivery.allowNetworks`).
        package var networkPolicy = NetworkPolicy()
        /// The HTTP client settings every pinned client is made with (``clientConfiguration`` by default).
        package var http = DeliveryEngine.clientConfiguration
        package init() {}
    }

    let store: any DeliveryStore
    let clients: PinnedHTTPClients
    let resolver: any AddressResolver
    let clock: any DeliveryClock
    let jitter: any JitterSource
    let logger: Logger
    let configuration: Configuration
    /// Attempts by subscriber and result, and their durations; nil records nothing.
    let metrics: (any MetricsFactory)?
    /// Commits announced by the store: new events and deliveries made due, by any instance.
    let changes: StoreChanges?
    private let wakeup = Wakeup()
    private let state = Mutex(State())

    struct State {
        var inFlight: [String: Int] = [:]
        /// Deliveries being sent now: a lease that ran out while its attempt is still under way (a receiver slower
        /// than the lease) must not start a second, concurrent attempt from this instance.
        var sending: Set<Int64> = []
        /// Subscribers that answered 429: nothing is sent to them before this time.
        var pausedUntil: [String: UTCTimestamp] = [:]
        var total: Int { inFlight.values.reduce(0, +) }
    }

    package init(
        store: any DeliveryStore,
        resolver: any AddressResolver = SystemAddressResolver(),
        clock: any DeliveryClock,
        jitter: any JitterSource = RandomJitter(),
        logger: Logger,
        configuration: Configuration = Configuration(),
        metrics: (any MetricsFactory)? = nil,
        changes: StoreChanges? = nil
    ) {
        self.changes = changes
        self.store = store
        self.resolver = resolver
        self.clients = PinnedHTTPClients(configuration: configuration.http)
        self.clock = clock
        self.jitter = jitter
        self.logger = logger
        self.configuration = configuration
        self.metrics = metrics
    }

    /// The HTTP client configuration the engine is meant to run with. Redirects are never followed (a 3xx is a
    /// failed attempt: following one would send the event somewhere the network policy never saw). The attempt's
    /// own deadline (the subscriber's timeout) bounds connect, head and body; the pool's connect timeout only
    /// stops a connection attempt that outlived every request waiting for it.
    package static var clientConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout.connect = .seconds(10)
        // Per-subscriber concurrency is the engine's to bound; the pool should not queue below it.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        configuration.decompression = .disabled
        return configuration
    }

    /// Tells the engine that new deliveries may be due (an event was accepted, a delivery was redelivered).
    package func wake() { wakeup.signal() }

    package func run() async throws {
        let listener = changes?.listen(to: .everything)
        defer { listener?.stop() }
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let now = clock.now()
                let (inFlight, paused, free, sendingBeforeClaim) = state.withLock { state in
                    state.pausedUntil = state.pausedUntil.filter { now < $0.value }
                    return (
                        state.inFlight, Set(state.pausedUntil.keys), configuration.maximumConcurrency - state.total,
                        state.sending
                    )
                }
                var claimed: [DueDelivery] = []
                if free > 0 {
                    do {
                        claimed = try await store.claimDueDeliveries(
                            now: now,
                            leaseMargin: configuration.leaseMargin,
                            limit: free,
                            inFlight: inFlight,
                            paused: paused
                        )
                    } catch {
                        logger.error("claiming deliveries failed", metadata: ["error": "\(error)"])
                    }
                }
                for due in claimed {
                    // A delivery whose attempt was under way when the claim read the store (its lease ran out) may
                    // have finished since, its result recorded: sending it now would repeat a finished attempt.
                    // If that attempt asked for a retry, the next claim after this claim's lease picks it up.
                    guard !sendingBeforeClaim.contains(due.delivery.id) else { continue }
                    let fresh = state.withLock { state -> Bool in
                        guard state.sending.insert(due.delivery.id).inserted else { return false }
                        state.inFlight[due.subscriber.id, default: 0] += 1
                        return true
                    }
                    guard fresh else { continue }
                    group.addTask {
                        await self.send(due)
                        self.state.withLock { state in
                            state.sending.remove(due.delivery.id)
                            state.inFlight[due.subscriber.id, default: 1] -= 1
                            if state.inFlight[due.subscriber.id] == 0 { state.inFlight[due.subscriber.id] = nil }
                        }
                        self.wakeup.signal()
                    }
                }
                if claimed.isEmpty || claimed.count < free {
                    await waitForWork(now: now, canClaim: free > claimed.count, listener: listener)
                }
            }
        }
        // Every attempt has finished: the pinned clients can go.
        await clients.shutdown()
    }

    /// Waits for a wake-up, the next due time, or the idle poll, whichever is first.
    private func waitForWork(now: UTCTimestamp, canClaim: Bool, listener: StoreChanges.Listener?) async {
        var deadline = UTCTimestamp(
            millisecondsSinceEpoch: now.millisecondsSinceEpoch + configuration.idlePoll.milliseconds
        )
        // A delivery that is due but was not claimed waits for an earlier one of its job (or a busy subscriber);
        // the send that frees it wakes the engine, so only a future due time is worth sleeping for.
        if canClaim, let due = try? await store.nextDueTime(after: now), due < deadline {
            deadline = due
        }
        let paused = state.withLock { $0.pausedUntil.values.min() }
        if let paused, paused < deadline { deadline = paused }
        let clock = self.clock
        let wakeup = self.wakeup
        let until = deadline
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(until: until) }
            group.addTask { await wakeup.wait() }
            if let listener { group.addTask { await listener.wait() } }
            group.addTask { try? await gracefulShutdown() }
            await group.next()
            group.cancelAll()
        }
    }

    // MARK: One attempt

    func send(_ due: DueDelivery) async {
        let subscriber = due.subscriber
        let delivery = due.delivery
        let started = clock.now()
        let timestamp = started.millisecondsSinceEpoch / 1000
        var request = HTTPClientRequest(url: subscriber.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/cloudevents+json")
        request.headers.add(name: "User-Agent", value: "fieldgate")
        request.headers.add(name: "webhook-id", value: delivery.eventID)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        // During a rotation's grace period both secrets sign, space-separated (Standard Webhooks).
        let signatures = subscriber.signingSecrets(at: started).compactMap(WebhookSigner.init(secret:)).map {
            $0.signature(id: delivery.eventID, timestamp: timestamp, body: due.body)
        }
        if !signatures.isEmpty {
            request.headers.add(name: "webhook-signature", value: signatures.joined(separator: " "))
        }
        request.body = .bytes(ByteBuffer(bytes: due.body))

        let attemptNumber = delivery.attempts + 1
        var statusCode: Int?
        var failure: String?
        let result: DeliveryAttempt.Result
        let policy = RetryPolicy(maximumRetryAfter: configuration.maximumRetryAfter)
        func retry(after retryAfter: Duration?) -> DeliveryAttempt.Result {
            policy.result(
                afterAttempt: attemptNumber,
                schedule: subscriber.retrySchedule,
                now: clock.now(),
                jitter: jitter.next(),
                retryAfter: retryAfter
            )
        }
        // A row stored before the bounds existed may hold any duration; NIO's nanoseconds would trap on it.
        let timeout = Bounds.subscriberTimeout.clamp(subscriber.timeout)
        do {
            let answer = try await attempt(request, to: subscriber.url, within: timeout)
            let code = answer.status
            statusCode = code
            switch code {
            case 200..<300:
                result = .delivered
            case 410:
                failure = "410 Gone"
                result = .subscriberGone
            case 300..<400:
                failure = "HTTP \(code): redirects are not followed"
                result = retry(after: nil)
            default:
                failure = "HTTP \(code)"
                result = retry(after: RetryPolicy.retryAfter(answer.retryAfter, now: clock.now()))
                if code == 429, case .retry(let at) = result {
                    // The receiver is overloaded: nothing more goes to it until it asked us to come back.
                    state.withLock { $0.pausedUntil[subscriber.id] = at }
                }
            }
        } catch  where Task.isCancelled {
            // A shutdown that ran out of time cut the attempt short: it counts as nothing, and its lease is given
            // back so that the delivery goes out again at once (another instance, or this one after the restart).
            do {
                try await store.releaseLeases(deliveryIDs: [delivery.id])
                logger.info(
                    "delivery released at shutdown",
                    metadata: ["delivery.id": "\(delivery.id)", "subscriber": "\(subscriber.id)"]
                )
            } catch {
                logger.error("releasing a delivery at shutdown failed", metadata: ["error": "\(error)"])
            }
            return
        } catch let refused as DestinationRefused {
            failure = "destination refused: \(refused.reason)"
            result = retry(after: nil)
        } catch is AttemptTimedOut {
            failure = "timed out after \(DurationText.format(timeout)) (connect, response head and body)"
            result = retry(after: nil)
        } catch {
            failure = Self.describe(error, timeout: timeout)
            result = retry(after: nil)
        }
        let finished = clock.now()
        let attempt = DeliveryAttempt(
            deliveryID: delivery.id,
            at: finished,
            statusCode: statusCode,
            error: failure,
            durationMilliseconds: finished.millisecondsSinceEpoch - started.millisecondsSinceEpoch,
            result: result
        )
        var metadata: Logger.Metadata = [
            "delivery.id": "\(delivery.id)", "event.id": "\(delivery.eventID)", "subscriber": "\(subscriber.id)",
            "attempt": "\(attemptNumber)", "result": "\(result.name)",
        ]
        if let failure { metadata["error"] = "\(failure)" }
        logger.log(level: result == .delivered ? .debug : .info, "delivery attempt", metadata: metadata)
        if let metrics {
            Counter(
                label: "fieldgate_delivery_attempts_total",
                dimensions: [("subscriber", subscriber.id), ("result", result.name)],
                factory: metrics
            ).increment()
            CoreMetrics.Timer(
                label: "fieldgate_delivery_duration_seconds",
                dimensions: [("subscriber", subscriber.id)],
                factory: metrics
            ).recordMilliseconds(attempt.durationMilliseconds)
        }
        do {
            let recorded = try await store.record(attempt, disableAfter: configuration.disableAfter)
            if let reason = recorded.disabledReason {
                logger.warning(
                    "subscriber disabled",
                    metadata: ["subscriber": "\(subscriber.id)", "reason": "\(reason)"]
                )
                if let metrics {
                    Counter(
                        label: "fieldgate_subscribers_disabled_total",
                        dimensions: [
                            ("subscriber", subscriber.id), ("cause", result == .subscriberGone ? "gone" : "failing"),
                        ],
                        factory: metrics
                    ).increment()
                }
            }
        } catch {
            // The lease runs out and the delivery is sent again: at least once, with the same webhook-id.
            logger.error("recording a delivery attempt failed", metadata: ["error": "\(error)"])
        }
    }

    /// What an attempt learned from the receiver.
    struct Answer: Sendable {
        var status: Int
        var retryAfter: String?
    }

    /// One attempt under one deadline: the address is resolved and checked, the connection pinned to it, and the
    /// response head and up to ``Configuration/maximumResponseBytes`` of its body read — all within `timeout`,
    /// measured in real time (the network does not follow a virtual clock).
    func attempt(_ request: HTTPClientRequest, to url: String, within timeout: Duration) async throws -> Answer {
        let deadline = ContinuousClock.now + timeout
        let policy = configuration.networkPolicy
        let resolver = self.resolver
        let clients = self.clients
        let maximumResponseBytes = configuration.maximumResponseBytes
        return try await Self.withDeadline(deadline) {
            let destination = try await Destination.check(url: url, policy: policy, resolver: resolver)
            return try await clients.withClient(for: destination) { client in
                let remaining = deadline - ContinuousClock.now
                let response = try await client.execute(request, timeout: TimeAmount(remaining))
                var read = 0
                for try await chunk in response.body {
                    read += chunk.readableBytes
                    // Enough: the rest is dropped with the connection.
                    if read >= maximumResponseBytes { break }
                }
                return Answer(
                    status: Int(response.status.code),
                    retryAfter: response.headers.first(name: "Retry-After")
                )
            }
        }
    }

    /// Runs `operation`, cancelling it and throwing ``AttemptTimedOut`` if `deadline` passes first.
    static func withDeadline<T: Sendable>(
        _ deadline: ContinuousClock.Instant,
        _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw AttemptTimedOut() }
            return value
        }
    }

    static func describe(_ error: any Error, timeout: Duration) -> String {
        if let error = error as? HTTPClientError {
            if error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
                return "timed out after \(DurationText.format(timeout))"
            }
            return "\(error)"
        }
        return "\(error)"
    }
}

/// The attempt's deadline passed before it finished.
struct AttemptTimedOut: Error {}

extension TimeAmount {
    /// What is left of an attempt's deadline (at most its bounded timeout), at least a nanosecond.
    fileprivate init(_ remaining: Duration) {
        let (seconds, attoseconds) = remaining.components
        self = .nanoseconds(max(seconds * 1_000_000_000 + attoseconds / 1_000_000_000, 1))
    }
}
