package import FieldgateModel

/// One event owed to one subscriber: the outbox row written in the same transaction as the event.
package struct Delivery: Sendable, Equatable {
    package enum State: String, Sendable, CaseIterable {
        /// Not yet delivered; attempted when `nextAttemptAt` has come and no earlier event of its job is pending.
        case pending
        case delivered
        /// The retry schedule ran out; `POST /v1/deliveries/{id}/redeliver` puts it back.
        case dead
    }

    /// Increasing in acceptance order: per subscriber and job, deliveries go out in this order.
    package var id: Int64
    package var eventID: String
    package var subscriberID: String
    package var jobKey: String?
    package var state: State
    package var attempts: Int
    package var nextAttemptAt: UTCTimestamp
    package var lastStatus: Int?
    package var lastError: String?
    package var createdAt: UTCTimestamp
    package var deliveredAt: UTCTimestamp?

    package init(
        id: Int64,
        eventID: String,
        subscriberID: String,
        jobKey: String?,
        state: State,
        attempts: Int,
        nextAttemptAt: UTCTimestamp,
        lastStatus: Int?,
        lastError: String?,
        createdAt: UTCTimestamp,
        deliveredAt: UTCTimestamp?
    ) {
        self.id = id
        self.eventID = eventID
        self.subscriberID = subscriberID
        self.jobKey = jobKey
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
    }
}

/// A delivery claimed for sending, with what the sender needs: the event's bytes and its subscriber.
package struct DueDelivery: Sendable {
    package var delivery: Delivery
    package var subscriber: Subscriber
    /// The CloudEvent exactly as stored: every attempt sends the same bytes.
    package var body: [UInt8]

    package init(delivery: Delivery, subscriber: Subscriber, body: [UInt8]) {
        self.delivery = delivery
        self.subscriber = subscriber
        self.body = body
    }
}

/// One HTTP attempt and what it led to.
package struct DeliveryAttempt: Sendable, Equatable {
    package enum Result: Sendable, Equatable {
        case delivered
        /// Try again at this time.
        case retry(at: UTCTimestamp)
        case dead
        /// The receiver answered 410 Gone: the subscriber is disabled and the delivery waits.
        case subscriberGone
    }

    package var deliveryID: Int64
    package var at: UTCTimestamp
    package var statusCode: Int?
    package var error: String?
    package var durationMilliseconds: Int64
    package var result: Result

    package init(
        deliveryID: Int64,
        at: UTCTimestamp,
        statusCode: Int?,
        error: String?,
        durationMilliseconds: Int64,
        result: Result
    ) {
        self.deliveryID = deliveryID
        self.at = at
        self.statusCode = statusCode
        self.error = error
        self.durationMilliseconds = durationMilliseconds
        self.result = result
    }
}

/// Filters of `GET /v1/deliveries`.
package struct DeliveryQuery: Sendable, Equatable {
    package var subscriberID: String?
    package var state: Delivery.State?
    package var eventID: String?
    package var before: Int64?
    package var limit: Int

    package init(
        subscriberID: String? = nil,
        state: Delivery.State? = nil,
        eventID: String? = nil,
        before: Int64? = nil,
        limit: Int = 50
    ) {
        self.subscriberID = subscriberID
        self.state = state
        self.eventID = eventID
        self.before = before
        self.limit = limit
    }
}

/// The outbox and the subscribers, shared by every gateway instance on one store.
///
/// ``EventStore/insertIfNew(_:)`` of a store that is also a `DeliveryStore` writes a pending delivery for every
/// enabled subscriber whose filter matches, in the same transaction as the event: an accepted event can never miss
/// a delivery.
package protocol DeliveryStore: Sendable {
    func subscribers() async throws -> [Subscriber]
    func subscriber(id: String) async throws -> Subscriber?
    /// Creates or replaces the subscriber with this ID.
    func saveSubscriber(_ subscriber: Subscriber) async throws
    /// Removes the subscriber and every delivery still owed to it; false when there was none.
    func deleteSubscriber(id: String) async throws -> Bool

    /// Pending deliveries whose time has come, at most `limit`, leased for sending.
    ///
    /// None whose job has an earlier pending delivery to the same subscriber, none of a disabled or `paused`
    /// subscriber, and per subscriber no more than its `maxConcurrency` less what is in flight — the larger of the
    /// store's live leases for it (in flight on any instance) and `inFlight` (this instance's count). Fairness is
    /// the store's job: a subscriber at its limit is left out before any of its rows is read, the others are served
    /// oldest due first, and finding one subscriber's due deliveries costs nothing for another's backlog (an index
    /// on the subscriber and due time), so a dead, slow or paused subscriber never holds back another.
    ///
    /// Each claimed delivery is leased for its subscriber's timeout plus `leaseMargin`, so that another instance (or
    /// this one) does not send it meanwhile; after a crash the lease runs out that soon and it is sent again.
    func claimDueDeliveries(
        now: UTCTimestamp,
        leaseMargin: Duration,
        limit: Int,
        inFlight: [String: Int],
        paused: Set<String>
    ) async throws -> [DueDelivery]
    /// Gives up the leases of claimed deliveries that were not attempted (a shutdown cut them short): they are
    /// pending and due again at once, for any instance, with no attempt counted.
    func releaseLeases(deliveryIDs: [Int64]) async throws
    /// Records an attempt and applies its result (delivered, retry, dead, subscriber disabled).
    ///
    /// The subscriber's health follows: a delivered attempt clears `failingSince`; any other sets it to the
    /// attempt's time unless it is set already. When `disableAfter` is given and the subscriber has failed without
    /// a single success for that long, it is disabled with a reason, which is returned.
    func record(_ attempt: DeliveryAttempt, disableAfter: Duration?) async throws -> RecordedAttempt
    /// The earliest time after `now` at which a pending delivery of an enabled subscriber becomes due (or its lease
    /// runs out); nil when there is none.
    func nextDueTime(after now: UTCTimestamp) async throws -> UTCTimestamp?
    /// Deletes at most `limit` delivered deliveries (with their attempts) delivered before `instant`, oldest first;
    /// returns how many. Dead letters stay until their event goes, so that they can still be redelivered.
    func deleteDeliveredDeliveries(deliveredBefore instant: UTCTimestamp, limit: Int) async throws -> Int
    /// Pending and dead deliveries per subscriber, for the backlog gauges.
    func deliveryBacklog() async throws -> [DeliveryBacklog]
    /// Per subscriber, the attempts made since `since` and how they went (the console's success rate and last
    /// error); subscribers without an attempt in that time are left out. Reads only that period's attempts.
    func deliveryHealth(since: UTCTimestamp) async throws -> [DeliveryHealth]

    func deliveries(_ query: DeliveryQuery) async throws -> Page<Delivery>
    func delivery(id: Int64) async throws -> Delivery?
    func attempts(deliveryID: Int64) async throws -> [DeliveryAttempt]
    /// Puts a dead (or delivered) delivery back to pending, due now, with its attempts counted afresh.
    func redeliver(id: Int64, now: UTCTimestamp) async throws -> Delivery?
    /// Queues again every event accepted since `since` that matches the subscriber; returns how many.
    func recover(subscriberID: String, since: UTCTimestamp, now: UTCTimestamp) async throws -> Int
}

extension DeliveryStore {
    /// Records an attempt without the disable-after rule.
    package func record(_ attempt: DeliveryAttempt) async throws {
        _ = try await record(attempt, disableAfter: nil)
    }
}

/// What recording an attempt changed beyond the delivery.
package struct RecordedAttempt: Sendable, Equatable {
    /// Set when this attempt disabled the subscriber (410 Gone, or failing for `disableAfter`): the reason stored.
    package var disabledReason: String?

    package init(disabledReason: String? = nil) {
        self.disabledReason = disabledReason
    }
}

/// One subscriber's outbox, as the gauges show it.
package struct DeliveryBacklog: Sendable, Equatable {
    package var subscriberID: String
    package var pending: Int
    package var dead: Int
    /// When the oldest pending delivery was queued; nil when nothing is pending.
    package var oldestPendingSince: UTCTimestamp?

    package init(subscriberID: String, pending: Int, dead: Int, oldestPendingSince: UTCTimestamp?) {
        self.subscriberID = subscriberID
        self.pending = pending
        self.dead = dead
        self.oldestPendingSince = oldestPendingSince
    }
}

/// How one subscriber's attempts went over a period.
package struct DeliveryHealth: Sendable, Equatable {
    package var subscriberID: String
    package var attempts: Int
    package var delivered: Int
    package var lastAttemptAt: UTCTimestamp?
    /// The period's latest attempt that did not deliver: when, the status it got (if any) and its error.
    package var lastFailureAt: UTCTimestamp?
    package var lastFailureStatus: Int?
    package var lastFailureError: String?

    package init(
        subscriberID: String,
        attempts: Int,
        delivered: Int,
        lastAttemptAt: UTCTimestamp? = nil,
        lastFailureAt: UTCTimestamp? = nil,
        lastFailureStatus: Int? = nil,
        lastFailureError: String? = nil
    ) {
        self.subscriberID = subscriberID
        self.attempts = attempts
        self.delivered = delivered
        self.lastAttemptAt = lastAttemptAt
        self.lastFailureAt = lastFailureAt
        self.lastFailureStatus = lastFailureStatus
        self.lastFailureError = lastFailureError
    }

    /// Delivered attempts as a share of all attempts, 0 to 1; nil without attempts.
    package var successRate: Double? {
        attempts == 0 ? nil : Double(delivered) / Double(attempts)
    }
}

extension DeliveryAttempt.Result {
    /// The result as stored and shown: `delivered`, `retry`, `dead`, `subscriber-gone`.
    package var name: String {
        switch self {
        case .delivered: "delivered"
        case .retry: "retry"
        case .dead: "dead"
        case .subscriberGone: "subscriber-gone"
        }
    }

    package init(name: String, retryAt: UTCTimestamp?) {
        switch name {
        case "delivered": self = .delivered
        case "dead": self = .dead
        case "subscriber-gone": self = .subscriberGone
        default: self = .retry(at: retryAt ?? UTCTimestamp(millisecondsSinceEpoch: 0))
        }
    }
}
