import FieldgateCore
import FieldgateModel
import NIOCore
import PostgresNIO

/// Column lists and row decoding, one place per table so that a query and its decoder cannot drift apart.
enum PostgresRows {
    static let eventColumns = "sequence, json, raw_method, raw_path, raw_headers, raw_body"

    static func storedEvent(_ row: PostgresRow) throws -> StoredEvent {
        let (sequence, json, method, path, headers, body) = try row.decode(
            (Int64, ByteBuffer, String, String, String, ByteBuffer).self
        )
        return StoredEvent(
            event: try CanonicalEvent(decoding: Array(json.readableBytesView)),
            raw: RedactedRequest(
                method: method,
                path: path,
                headers: try StoredJSON.decodeHeaders(headers),
                body: Array(body.readableBytesView)
            ),
            sequence: sequence
        )
    }

    static let quarantineColumns = """
        sequence, id, vendor, tenant, route_suffix, raw_method, raw_path, raw_headers, raw_body, problem_code, \
        problem_status, problem_title, problem_detail, received_at, replayed_as, replayed_at
        """

    static func quarantinedRequest(_ row: PostgresRow) throws -> QuarantinedRequest {
        let (
            sequence, id, vendor, tenant, routeSuffix, method, path, headers, body, code, status, title, detail,
            receivedAt, replayedAs, replayedAt
        ) = try row.decode(
            (
                Int64, String, String, String, String, String, String, String, ByteBuffer, String, Int, String,
                String, Int64, String?, Int64?
            ).self
        )
        return QuarantinedRequest(
            id: id,
            vendor: vendor,
            tenant: tenant,
            routeSuffix: routeSuffix,
            raw: RedactedRequest(
                method: method,
                path: path,
                headers: try StoredJSON.decodeHeaders(headers),
                body: Array(body.readableBytesView)
            ),
            problem: Problem(storedCode: code, status: status, title: title, detail: detail),
            receivedAt: UTCTimestamp(millisecondsSinceEpoch: receivedAt),
            replayedAs: replayedAs,
            replayedAt: replayedAt.map(UTCTimestamp.init(millisecondsSinceEpoch:)),
            sequence: sequence
        )
    }

    static let subscriberColumns = """
        id, url, secret, previous_secret, previous_secret_expires_at, types, vendors, tenants, statuses, enabled, \
        disabled_reason, failing_since, retry_schedule, timeout_ms, max_concurrency, origin
        """

    static func subscriber(_ row: PostgresRow) throws -> Subscriber {
        let (
            id, url, secret, previousSecret, previousSecretExpiresAt, types, vendors, tenants, statuses, enabled,
            disabledReason, failingSince, retrySchedule, timeout, maxConcurrency, origin
        ) = try row.decode(
            (
                String, String, String?, String?, Int64?, [String], [String], [String], [String], Bool, String?,
                Int64?, [Int64], Int64, Int, String
            ).self
        )
        return Subscriber(
            id: id,
            url: url,
            secret: secret,
            previousSecret: previousSecret,
            previousSecretExpiresAt: previousSecretExpiresAt.map(UTCTimestamp.init(millisecondsSinceEpoch:)),
            filter: SubscriberFilter(types: types, vendors: vendors, tenants: tenants, statuses: statuses),
            enabled: enabled,
            disabledReason: disabledReason,
            failingSince: failingSince.map(UTCTimestamp.init(millisecondsSinceEpoch:)),
            retrySchedule: retrySchedule.map { .milliseconds($0) },
            timeout: .milliseconds(timeout),
            maxConcurrency: maxConcurrency,
            origin: Subscriber.Origin(rawValue: origin) ?? .api
        )
    }

    static let jobColumns = """
        key, vendor, tenant, job_id, status, vendor_status_code, vendor_status_name, status_at, status_sequence, \
        last_event_at, last_event_id, last_sequence, event_count
        """

    static func job(_ row: PostgresRow) throws -> JobSummary {
        let (
            key, vendor, tenant, jobID, status, code, name, statusAt, statusSequence, lastEventAt, lastEventID,
            lastSequence, eventCount
        ) = try row.decode(
            (
                String, String, String, String, String?, String?, String?, Int64?, Int64?, Int64, String, Int64, Int
            ).self
        )
        return JobSummary(
            key: key,
            vendor: vendor,
            tenant: tenant,
            jobID: jobID,
            status: status.flatMap(JobStatus.init(rawValue:)),
            vendorStatus: VendorStatus(code: code, name: name),
            statusAt: statusAt.map(UTCTimestamp.init(millisecondsSinceEpoch:)),
            statusSequence: statusSequence,
            lastEventAt: UTCTimestamp(millisecondsSinceEpoch: lastEventAt),
            lastEventID: lastEventID,
            lastSequence: lastSequence,
            eventCount: eventCount
        )
    }

    static let deliveryColumns = """
        id, event_id, subscriber_id, job_key, state, attempts, next_attempt_at, last_status, last_error, created_at, \
        delivered_at
        """

    static func delivery(_ row: PostgresRow) throws -> Delivery {
        delivery(try row.decode(DeliveryColumns.self))
    }

    /// A claimed delivery: the delivery's columns followed by its event's JSON.
    static func claimedDelivery(_ row: PostgresRow) throws -> (Delivery, ByteBuffer) {
        let (id, eventID, subscriberID, jobKey, state, attempts, next, status, error, created, delivered, json) =
            try row.decode(
                (Int64, String, String, String?, String, Int, Int64, Int?, String?, Int64, Int64?, ByteBuffer).self
            )
        return (
            delivery((id, eventID, subscriberID, jobKey, state, attempts, next, status, error, created, delivered)),
            json
        )
    }

    typealias DeliveryColumns = (Int64, String, String, String?, String, Int, Int64, Int?, String?, Int64, Int64?)

    private static func delivery(_ columns: DeliveryColumns) -> Delivery {
        let (
            id, eventID, subscriberID, jobKey, state, attempts, nextAttemptAt, lastStatus, lastError, createdAt,
            deliveredAt
        ) =
            columns
        return Delivery(
            id: id,
            eventID: eventID,
            subscriberID: subscriberID,
            jobKey: jobKey,
            state: Delivery.State(rawValue: state) ?? .pending,
            attempts: attempts,
            nextAttemptAt: UTCTimestamp(millisecondsSinceEpoch: nextAttemptAt),
            lastStatus: lastStatus,
            lastError: lastError,
            createdAt: UTCTimestamp(millisecondsSinceEpoch: createdAt),
            deliveredAt: deliveredAt.map(UTCTimestamp.init(millisecondsSinceEpoch:))
        )
    }
}

/// The `WHERE` clause of a listing, built from the filters that are set, with numbered parameters.
struct PostgresFilter {
    private(set) var conditions: [String] = []
    private(set) var binds = PostgresBindings()

    /// Adds `condition` followed by the next parameter, when `value` is not nil.
    mutating func add(_ condition: String, _ value: String?) {
        guard let value else { return }
        binds.append(value)
        conditions.append("\(condition)$\(binds.count)")
    }

    mutating func add(_ condition: String, _ value: Int64?) {
        guard let value else { return }
        binds.append(value)
        conditions.append("\(condition)$\(binds.count)")
    }

    /// A row comparison, `(a, b) < ($n, $n+1)`.
    mutating func add(_ condition: String, _ first: Int64, _ second: String) {
        binds.append(first)
        binds.append(second)
        conditions.append("\(condition)($\(binds.count - 1), $\(binds.count))")
    }

    var whereClause: String {
        conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    }
}
