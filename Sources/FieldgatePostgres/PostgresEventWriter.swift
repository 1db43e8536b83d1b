import FieldgateCore
import FieldgateModel
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The statements behind the ingest group commit — events with their deliveries, job rows and quarantine replays —
/// and the state they share: the enabled subscribers (cached until any instance announces a change) and
/// ``StoreChanges``.
final class PostgresEventWriter: Sendable {
    /// An event on its way in: the candidate, its columns serialised before the batch, and for a quarantine replay
    /// the request it replays.
    struct Write: Sendable {
        var candidate: EventCandidate
        var json: ByteBuffer
        var headers: String
        var body: ByteBuffer
        var replay: (quarantineID: String, at: UTCTimestamp)?
    }

    /// A delivery attempt on its way in, with the subscriber-health rule it is recorded under.
    struct AttemptWrite: Sendable {
        var attempt: DeliveryAttempt
        var disableAfter: Duration?
    }

    enum Outcome: Sendable {
        case insert(InsertOutcome)
        case replay(ReplayInsertOutcome)
    }

    let logger: Logger
    let changes: StoreChanges
    /// Enabled subscribers, read when unknown or older than ``subscriberCacheLifetime``; forgotten whenever any
    /// instance announces a subscriber change. A stale entry is harmless: the delivery insert keeps only subscribers
    /// that exist and are enabled, and a claim for an unknown one is sent at the next claim.
    private let enabledSubscribers = Mutex(SubscriberCache())
    private struct SubscriberCache {
        var subscribers: [Subscriber]?
        var readAt = ContinuousClock.now
        /// Counts forgets: a read that a forget overtook must not be kept.
        var generation = 0
    }
    /// A backstop for a change announced while this instance was not listening.
    static let subscriberCacheLifetime = Duration.seconds(10)

    init(logger: Logger, changes: StoreChanges) {
        self.logger = logger
        self.changes = changes
    }

    func forgetSubscribers() {
        enabledSubscribers.withLock { cache in
            cache.subscribers = nil
            cache.generation += 1
        }
    }

    /// A NOTIFY payload from any instance, this one included.
    func received(_ payload: String) {
        switch StoreChangeKind(rawValue: payload) {
        case .events: changes.publish(.events)
        case .deliveries: changes.publish(.deliveries)
        case .subscribers:
            forgetSubscribers()
            changes.publish(.deliveries)
        case nil: changes.publish(.everything)
        }
    }

    /// The enabled subscribers, from the cache or the database.
    func enabledSubscribers(on connection: PostgresConnection) async throws -> [Subscriber] {
        let logger = self.logger
        return try await enabledSubscribers {
            try await connection.query(Self.enabledSubscribersQuery, logger: logger).collect()
        }
    }

    func enabledSubscribers(on connection: GuardedConnection) async throws -> [Subscriber] {
        try await enabledSubscribers { try await connection.rows(Self.enabledSubscribersQuery) }
    }

    static let enabledSubscribersQuery: PostgresQuery =
        "SELECT \(unescaped: PostgresRows.subscriberColumns) FROM subscriber WHERE enabled ORDER BY id"

    private func enabledSubscribers(fetch: () async throws -> [PostgresRow]) async throws -> [Subscriber] {
        let (cached, generation) = enabledSubscribers.withLock { cache -> ([Subscriber]?, Int) in
            guard let subscribers = cache.subscribers, ContinuousClock.now - cache.readAt < Self.subscriberCacheLifetime
            else { return (nil, cache.generation) }
            return (subscribers, cache.generation)
        }
        if let cached { return cached }
        let readAt = ContinuousClock.now
        let fetched = try await fetch().map(PostgresRows.subscriber)
        enabledSubscribers.withLock { cache in
            guard cache.generation == generation else { return }
            cache.subscribers = fetched
            cache.readAt = readAt
        }
        return fetched
    }

    // MARK: Events

    /// Inserts a batch of events — each unless its key was accepted within its window — with their deliveries and
    /// job rows, and marks the quarantined requests the batch replays, in one transaction.
    ///
    /// Everything is decided under the commit-order lock from one read of the state the batch touches (the highest
    /// numbers, the rows of the batch's first-occurrence IDs, its jobs and quarantined requests), then written with
    /// one statement. Decisions see the batch's own earlier writes, so two copies of one key in a batch are an
    /// original and its duplicate. Only a key accepted before and expired since needs more reads: the walk along
    /// its occurrences, eight IDs per round trip.
    func insert(_ writes: [Write], on connection: GuardedConnection) async throws -> [Outcome] {
        let subscribers = try await enabledSubscribers(on: connection)
        if let outcomes = try await insert(writes, subscribers: subscribers, locked: false, on: connection) {
            return outcomes
        }
        // Another instance wrote what this batch decided on, at the same moment: decide again under the lock.
        guard let outcomes = try await insert(writes, subscribers: subscribers, locked: true, on: connection) else {
            throw PostgresStoreError("a batch decided under the commit-order lock was refused")
        }
        return outcomes
    }

    /// One attempt at a batch: read (and, `locked`, take the commit-order lock), decide, write, commit; nil when the
    /// optimistic write found that what it decided on had changed (nothing was written).
    private func insert(
        _ writes: [Write],
        subscribers: [Subscriber],
        locked: Bool,
        on connection: GuardedConnection
    ) async throws -> [Outcome]? {
        // BEGIN and the read go out together; the batch waits once for both.
        let begin = connection.send("BEGIN")
        let read = connection.send(BatchState.query(for: writes, locked: locked))
        do {
            _ = try await begin.get()
            var batch = try BatchState(for: writes, rows: try await read.get().rows)
            var outcomes: [Outcome] = []
            outcomes.reserveCapacity(writes.count)
            for write in writes {
                if let replay = write.replay {
                    switch batch.replayState(replay.quarantineID) {
                    case .notFound:
                        outcomes.append(.replay(.notFound))
                        continue
                    case .replayed(let eventID, let at):
                        outcomes.append(.replay(.alreadyReplayed(eventID: eventID, at: at)))
                        continue
                    case .open:
                        break
                    }
                    let outcome = try await settle(write, subscribers: subscribers, batch: &batch, on: connection)
                    batch.markReplayed(replay.quarantineID, as: outcome.eventID, at: replay.at)
                    outcomes.append(.replay(.replayed(outcome)))
                } else {
                    let outcome = try await settle(write, subscribers: subscribers, batch: &batch, on: connection)
                    outcomes.append(.insert(outcome))
                }
            }
            // The write and COMMIT go out together; 202s wait for COMMIT's answer.
            let results = try await PostgresTransactions.pipeline(
                [batch.writeQuery(checked: !locked), "COMMIT"],
                on: connection
            )
            try PostgresTransactions.checkCommitted(results.last)
            if !locked, try results[0].rows.first?.decode(Bool.self) != true { return nil }
            return outcomes
        } catch {
            await PostgresTransactions.abandon(on: connection)
            throw error
        }
    }

    /// One event: a duplicate of the acceptance whose window still counts, or a new event with the first free
    /// occurrence ID (earlier acceptances then stop answering duplicates but stay as long as this one counts).
    private func settle(
        _ write: Write,
        subscribers: [Subscriber],
        batch: inout BatchState,
        on connection: GuardedConnection
    ) async throws -> InsertOutcome {
        let candidate = write.candidate
        let now = candidate.event.receivedAt.millisecondsSinceEpoch
        var occurrence = 1
        var earlier: [String] = []
        while true {
            let id = candidate.key.eventID(occurrence: occurrence)
            if !batch.knows(id) {
                let ids = (occurrence..<occurrence + 8).map { candidate.key.eventID(occurrence: $0) }
                try await batch.fetch(ids, on: connection)
            }
            guard let existing = batch.row(id) else { break }
            if let expiresAt = existing.keyExpiresAt, now < expiresAt {
                return .duplicate(id: id)
            }
            earlier.append(id)
            occurrence += 1
        }
        var event = candidate.event
        event.id = candidate.key.eventID(occurrence: occurrence)
        for id in earlier { batch.supersede(id, until: candidate.keyExpiresAt.millisecondsSinceEpoch) }
        var row = write
        if occurrence > 1 { row.json = ByteBuffer(bytes: event.jsonBytes) }
        batch.insert(event, write: row, subscribers: subscribers)
        return .inserted(event)
    }

    // MARK: Delivery attempts

    /// Records a batch of attempts: the deliveries, the attempts, and each subscriber's health (a success clears
    /// `failing_since`, a failure sets it; failing for `disableAfter` without a success, or a 410, disables it) —
    /// applied in order, from the subscriber rows read `FOR UPDATE`, so that instances recording attempts for one
    /// subscriber at the same moment take turns. An attempt for a delivery that no longer exists records nothing.
    ///
    /// The deliveries are locked by that first read too, before anything is written. A claim on another
    /// instance whose snapshot predates the claim of one of them may lock that delivery (`SKIP LOCKED` finds it
    /// free once the first claim committed) and then wait to insert its claim row; PostgreSQL runs a statement's
    /// data-modifying `WITH` parts in no set order, and when the record deleted the claim row before updating the
    /// delivery the two waited for each other — a deadlock, seen in the fan-out measurement as 64 attempts left
    /// unrecorded until their leases ran out. Waiting for the delivery first, the record holds nothing the claim
    /// needs.
    func record(
        _ attempts: [(attempt: DeliveryAttempt, disableAfter: Duration?)],
        on connection: GuardedConnection
    ) async throws -> [RecordedAttempt] {
        struct Health {
            var enabled: Bool
            var failingSince: Int64?
            var disabledReason: String?
            var changed = false
        }
        // BEGIN and the read of the deliveries' subscribers (locked) go out together. An attempt's record does
        // not wait for the disk, as a claim does not: one lost in a database crash leaves its delivery pending, and
        // it is sent again with the same webhook-id (at least once; in order, since everything after it in the WAL
        // is lost with it). A subscriber disabled by a lost record is disabled again by its next attempt.
        let begin = connection.send("BEGIN")
        let asynchronous = connection.send("SET LOCAL synchronous_commit TO off")
        let read = connection.send(
            """
            SELECT d.id, s.id, s.enabled, s.failing_since, s.disabled_reason
            FROM delivery d JOIN subscriber s ON s.id = d.subscriber_id
            WHERE d.id = ANY(\(attempts.map(\.attempt.deliveryID))::int8[])
            ORDER BY s.id, d.id FOR UPDATE OF s, d
            """
        )
        var owners: [Int64: String] = [:]
        var health: [String: Health] = [:]
        do {
            _ = try await begin.get()
            _ = try await asynchronous.get()
            for row in try await read.get().rows {
                let (id, subscriberID, enabled, failingSince, reason) = try row.decode(
                    (Int64, String, Bool, Int64?, String?).self
                )
                owners[id] = subscriberID
                health[subscriberID] = Health(enabled: enabled, failingSince: failingSince, disabledReason: reason)
            }
        } catch {
            await PostgresTransactions.abandon(on: connection)
            throw error
        }

        var results: [RecordedAttempt] = []
        var rows = AttemptRows()
        var disabled = false
        for (attempt, disableAfter) in attempts {
            guard let subscriberID = owners[attempt.deliveryID] else {
                results.append(RecordedAttempt())
                continue
            }
            rows.append(attempt)
            let at = attempt.at.millisecondsSinceEpoch
            var state = health[subscriberID] ?? Health(enabled: false)
            var reason: String?
            if attempt.result == .delivered {
                if state.failingSince != nil {
                    state.failingSince = nil
                    state.changed = true
                }
            } else {
                if state.failingSince == nil {
                    state.failingSince = at
                    state.changed = true
                }
                if attempt.result == .subscriberGone {
                    reason =
                        "the receiver answered 410 Gone at \(attempt.at.rfc3339()); enable it again once it is back"
                } else if state.enabled, let disableAfter, let since = state.failingSince,
                    at - since >= disableAfter.milliseconds
                {
                    reason = Subscriber.failingReason(
                        since: UTCTimestamp(millisecondsSinceEpoch: since),
                        disableAfter: disableAfter
                    )
                }
            }
            if let reason {
                state.enabled = false
                state.disabledReason = reason
                state.changed = true
                disabled = true
            }
            health[subscriberID] = state
            results.append(RecordedAttempt(disabledReason: reason))
        }

        var subscriberIDs: [String] = []
        var enabled: [Bool] = []
        var hasFailingSince: [Bool] = []
        var failingSince: [Int64] = []
        var reasons: [String] = []
        var hasReason: [Bool] = []
        for (id, state) in health.sorted(by: { $0.key < $1.key }) where state.changed {
            subscriberIDs.append(id)
            enabled.append(state.enabled)
            hasFailingSince.append(state.failingSince != nil)
            failingSince.append(state.failingSince ?? 0)
            hasReason.append(state.disabledReason != nil)
            reasons.append(state.disabledReason ?? "")
        }
        var statements: [PostgresQuery] = []
        for round in rows.rounds() {
            statements.append(
                """
                WITH a AS (
                    SELECT * FROM unnest(\(round.ids)::int8[], \(round.results)::text[], \(round.ats)::int8[],
                                         \(round.statusCodes)::int8[], \(round.errors)::text[],
                                         \(round.durations)::int8[], \(round.retryAts)::int8[])
                        AS a(delivery_id, result, at, status_code, error, duration, retry_at)
                ),
                updated AS (
                    UPDATE delivery d SET
                        state = CASE a.result WHEN 'delivered' THEN 'delivered' WHEN 'dead' THEN 'dead' ELSE d.state END,
                        attempts = d.attempts + 1,
                        next_attempt_at = CASE a.result WHEN 'retry' THEN a.retry_at WHEN 'subscriber-gone' THEN a.at
                                          ELSE d.next_attempt_at END,
                        last_status = NULLIF(a.status_code, -1)::integer,
                        last_error = CASE a.result WHEN 'delivered' THEN NULL ELSE NULLIF(a.error, '') END,
                        delivered_at = CASE a.result WHEN 'delivered' THEN a.at ELSE d.delivered_at END
                    FROM a WHERE d.id = a.delivery_id
                ),
                released AS (DELETE FROM delivery_claim c USING a WHERE c.delivery_id = a.delivery_id)
                INSERT INTO delivery_attempt (delivery_id, at, status_code, error, duration_ms, result, retry_at)
                SELECT a.delivery_id, a.at, NULLIF(a.status_code, -1)::integer, NULLIF(a.error, ''), a.duration,
                       a.result, NULLIF(a.retry_at, -1)
                FROM a
                """
            )
        }
        if !subscriberIDs.isEmpty {
            statements.append(
                """
                UPDATE subscriber s SET
                    enabled = h.enabled,
                    failing_since = CASE WHEN h.has_failing_since THEN h.failing_since END,
                    disabled_reason = CASE WHEN h.has_reason THEN h.reason END
                FROM unnest(\(subscriberIDs)::text[], \(enabled)::bool[], \(hasFailingSince)::bool[],
                            \(failingSince)::int8[], \(hasReason)::bool[], \(reasons)::text[])
                    AS h(id, enabled, has_failing_since, failing_since, has_reason, reason)
                WHERE s.id = h.id
                """
            )
        }
        if disabled {
            statements.append(
                "SELECT pg_notify(\(PostgresSchema.channel), \(StoreChangeKind.subscribers.rawValue))"
            )
        }
        statements.append("COMMIT")
        do {
            let results = try await PostgresTransactions.pipeline(statements, on: connection)
            try PostgresTransactions.checkCommitted(results.last)
        } catch {
            await PostgresTransactions.abandon(on: connection)
            throw error
        }
        if disabled { forgetSubscribers() }
        return results
    }
}

/// Attempts as columns, split into rounds with one attempt per delivery each (one UPDATE cannot change a row
/// twice); in the order given.
private struct AttemptRows {
    struct Round {
        var ids: [Int64] = []
        var results: [String] = []
        var ats: [Int64] = []
        var statusCodes: [Int64] = []
        var errors: [String] = []
        var durations: [Int64] = []
        var retryAts: [Int64] = []
    }

    private var attempts: [DeliveryAttempt] = []

    mutating func append(_ attempt: DeliveryAttempt) { attempts.append(attempt) }

    func rounds() -> [Round] {
        var rounds: [Round] = []
        var seen: [Set<Int64>] = []
        for attempt in attempts {
            var index = 0
            while index < seen.count, seen[index].contains(attempt.deliveryID) { index += 1 }
            if index == rounds.count {
                rounds.append(Round())
                seen.append([])
            }
            seen[index].insert(attempt.deliveryID)
            rounds[index].ids.append(attempt.deliveryID)
            rounds[index].results.append(attempt.result.name)
            rounds[index].ats.append(attempt.at.millisecondsSinceEpoch)
            // Arrays cannot carry NULL through postgres-nio: -1 and the empty string stand for it (NULLIF).
            rounds[index].statusCodes.append(attempt.statusCode.map(Int64.init) ?? -1)
            rounds[index].errors.append(attempt.error ?? "")
            rounds[index].durations.append(attempt.durationMilliseconds)
            if case .retry(let at) = attempt.result {
                rounds[index].retryAts.append(at.millisecondsSinceEpoch)
            } else {
                rounds[index].retryAts.append(-1)
            }
        }
        return rounds
    }
}
