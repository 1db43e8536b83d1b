package import FieldgateModel

/// One job as a board shows it: its latest status and when it last moved.
///
/// Stores keep one per job key, updated in the same transaction as each of the job's events, so that listing jobs
/// (`GET /v1/jobs`) never reads the events themselves. ``applying(_:sequence:)`` is the one rule every store uses.
package struct JobSummary: Sendable, Equatable {
    package var key: String
    package var vendor: String
    package var tenant: String
    package var jobID: String
    /// The status of the last event in timeline order (event time, then acceptance) that said anything about
    /// status — the same as `GET /v1/jobs/{key}` reports.
    package var status: JobStatus?
    package var vendorStatus: VendorStatus?
    /// When that event happened; nil while no event of the job said anything about status.
    package var statusAt: UTCTimestamp?
    /// Acceptance order of that event: breaks ties between events with the same time.
    package var statusSequence: Int64?
    /// The latest event time of the job, whatever the event said.
    package var lastEventAt: UTCTimestamp
    /// The job's last event in timeline order.
    package var lastEventID: String
    package var lastSequence: Int64
    package var eventCount: Int

    /// When the job last reported a status, or when anything happened to it if it never did: what "stale" measures
    /// and what the listing is ordered by.
    package var updatedAt: UTCTimestamp { statusAt ?? lastEventAt }

    package init(
        key: String,
        vendor: String,
        tenant: String,
        jobID: String,
        status: JobStatus? = nil,
        vendorStatus: VendorStatus? = nil,
        statusAt: UTCTimestamp? = nil,
        statusSequence: Int64? = nil,
        lastEventAt: UTCTimestamp,
        lastEventID: String,
        lastSequence: Int64,
        eventCount: Int
    ) {
        self.key = key
        self.vendor = vendor
        self.tenant = tenant
        self.jobID = jobID
        self.status = status
        self.vendorStatus = vendorStatus
        self.statusAt = statusAt
        self.statusSequence = statusSequence
        self.lastEventAt = lastEventAt
        self.lastEventID = lastEventID
        self.lastSequence = lastSequence
        self.eventCount = eventCount
    }

    /// The summary of a job's first event; nil for an event without a job key.
    package init?(first event: CanonicalEvent, sequence: Int64) {
        guard let job = event.job, let key = job.key, let id = job.id else { return nil }
        self.init(
            key: key,
            vendor: event.vendor,
            tenant: event.tenant,
            jobID: id,
            status: job.status,
            vendorStatus: job.status == nil ? nil : job.vendorStatus,
            statusAt: job.status == nil ? nil : event.time,
            statusSequence: job.status == nil ? nil : sequence,
            lastEventAt: event.time,
            lastEventID: event.id,
            lastSequence: sequence,
            eventCount: 1
        )
    }

    /// The summary after one more event of the job, accepted with `sequence`.
    ///
    /// Vendors deliver late and out of order: an event that happened before the one that set the status does not
    /// change it, exactly as the timeline orders them (event time, then acceptance order).
    package func applying(_ event: CanonicalEvent, sequence: Int64) -> JobSummary {
        var next = self
        next.eventCount += 1
        if Self.isAfter(event.time, sequence, lastEventAt, lastSequence) {
            next.lastEventAt = event.time
            next.lastEventID = event.id
            next.lastSequence = sequence
        }
        if let status = event.job?.status {
            let later =
                if let statusAt, let statusSequence {
                    Self.isAfter(event.time, sequence, statusAt, statusSequence)
                } else {
                    true
                }
            if later {
                next.status = status
                next.vendorStatus = event.job?.vendorStatus
                next.statusAt = event.time
                next.statusSequence = sequence
            }
        }
        return next
    }

    /// The summary of a job's events, given with their acceptance order (in any order); nil when none has a job
    /// key. Retention rebuilds a job's summary from the events it keeps.
    package init?(events: [(event: CanonicalEvent, sequence: Int64)]) {
        let ordered = events.sorted { $0.sequence < $1.sequence }
        guard let first = ordered.first, var summary = JobSummary(first: first.event, sequence: first.sequence) else {
            return nil
        }
        for next in ordered.dropFirst() { summary = summary.applying(next.event, sequence: next.sequence) }
        self = summary
    }

    static func isAfter(
        _ time: UTCTimestamp,
        _ sequence: Int64,
        _ otherTime: UTCTimestamp,
        _ otherSequence: Int64
    )
        -> Bool
    {
        (time.millisecondsSinceEpoch, sequence) > (otherTime.millisecondsSinceEpoch, otherSequence)
    }
}

/// Filters of `GET /v1/jobs`; nil matches everything. Jobs come most recently updated first.
package struct JobQuery: Sendable, Equatable {
    package var vendor: String?
    package var tenant: String?
    package var status: JobStatus?
    /// Only jobs whose ``JobSummary/updatedAt`` is before this: the ones stuck for longer than a while.
    package var updatedBefore: UTCTimestamp?
    /// Only jobs after this position in the listing (the cursor of the previous page).
    package var after: JobCursor?
    package var limit: Int

    package init(
        vendor: String? = nil,
        tenant: String? = nil,
        status: JobStatus? = nil,
        updatedBefore: UTCTimestamp? = nil,
        after: JobCursor? = nil,
        limit: Int = 50
    ) {
        self.vendor = vendor
        self.tenant = tenant
        self.status = status
        self.updatedBefore = updatedBefore
        self.after = after
        self.limit = limit
    }

    /// The same predicate the SQL stores apply, for the in-memory store and for tests.
    package func matches(_ job: JobSummary) -> Bool {
        if let vendor, job.vendor != vendor { return false }
        if let tenant, job.tenant != tenant { return false }
        if let status, job.status != status { return false }
        if let updatedBefore, !(job.updatedAt < updatedBefore) { return false }
        if let after, !(JobCursor(job) < after) { return false }
        return true
    }
}

/// A position in the jobs listing: its order is updated time, then key, both descending.
///
/// The text form, `<updatedAt in Unix milliseconds>.<key in unpadded base64url>`, is opaque to clients and safe in
/// a query string. Every text of that form (`^-?[0-9]{1,15}\.([A-Za-z0-9_-]{4})*([A-Za-z0-9_-]{2,3})?$`, as the
/// OpenAPI document states) is a position, whether or not the API returned it, so the document can say exactly
/// which cursors are accepted.
package struct JobCursor: Sendable, Equatable, Comparable {
    package var updatedAt: UTCTimestamp
    package var key: String

    package init(updatedAt: UTCTimestamp, key: String) {
        self.updatedAt = updatedAt
        self.key = key
    }

    package init(_ job: JobSummary) {
        self.init(updatedAt: job.updatedAt, key: job.key)
    }

    /// Listing order is descending, so "less" is "further down the list".
    package static func < (lhs: JobCursor, rhs: JobCursor) -> Bool {
        if lhs.updatedAt.millisecondsSinceEpoch != rhs.updatedAt.millisecondsSinceEpoch {
            return lhs.updatedAt.millisecondsSinceEpoch < rhs.updatedAt.millisecondsSinceEpoch
        }
        // Bytewise, as SQL compares text.
        return lhs.key.utf8.lexicographicallyPrecedes(rhs.key.utf8)
    }

    package var text: String {
        "\(updatedAt.millisecondsSinceEpoch).\(Base64URL.encode(key.utf8))"
    }

    package init?(text: String) {
        guard let dot = text.firstIndex(of: ".") else { return nil }
        let milliseconds = text[..<dot]
        let digits = milliseconds.hasPrefix("-") ? milliseconds.dropFirst() : milliseconds
        // `Base64URL.decode` takes any length but 1 modulo 4 and ignores the last character's unused bits.
        guard (1...15).contains(digits.utf8.count), digits.utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }),
            let value = Int64(milliseconds), let key = Base64URL.decode(String(text[text.index(after: dot)...]))
        else { return nil }
        // The bytes only place the page. A key this API issued is the UTF-8 it was; any other is read leniently,
        // and NUL (which PostgreSQL text cannot hold) as U+0001, the position right after it.
        let decoded = String(decoding: key.map { $0 == 0 ? 1 : $0 }, as: UTF8.self)
        self.init(updatedAt: UTCTimestamp(millisecondsSinceEpoch: value), key: decoded)
    }
}

/// One page of the jobs listing; `next` is where the next page starts, nil on the last one.
package struct JobPage: Sendable, Equatable {
    package var jobs: [JobSummary]
    package var next: JobCursor?

    package init(jobs: [JobSummary], next: JobCursor?) {
        self.jobs = jobs
        self.next = next
    }

    /// Cuts a list fetched with one extra row into a page: the extra row only says "there is more".
    package init(fetched: [JobSummary], limit: Int) {
        if fetched.count > limit {
            jobs = Array(fetched.prefix(limit))
            next = jobs.last.map(JobCursor.init)
        } else {
            jobs = fetched
            next = nil
        }
    }
}
