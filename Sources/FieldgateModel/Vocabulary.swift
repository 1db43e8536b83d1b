/// The canonical event types (CONTRACT §3). Raw values are the wire strings and never change.
public enum EventType: String, Sendable, CaseIterable, Codable {
    case jobCreated = "job.created"
    case jobUpdated = "job.updated"
    case jobStatusChanged = "job.status_changed"
    case jobAssigned = "job.assigned"
    case jobScheduled = "job.scheduled"
    case jobCheckedIn = "job.checked_in"
    case jobCheckedOut = "job.checked_out"
    case jobCompleted = "job.completed"
    case jobCancelled = "job.cancelled"
    case jobArchived = "job.archived"
    case jobDeleted = "job.deleted"
    case jobNoteAdded = "job.note_added"
    case jobAttachmentAdded = "job.attachment_added"
    case jobAttachmentUpdated = "job.attachment_updated"
    case jobTaskChanged = "job.task_changed"
    case jobQuestionAnswered = "job.question_answered"
    case siteCreated = "site.created"
    case siteUpdated = "site.updated"
    case accountCreated = "account.created"
    case accountUpdated = "account.updated"
    case placeCheckedIn = "place.checked_in"
    case placeCheckedOut = "place.checked_out"
    case alertTriggered = "alert.triggered"

    /// Whether events of this type concern a job (`data.job` is an object) or not (`data.job` is null).
    public var concernsJob: Bool { rawValue.hasPrefix("job.") }
}

/// The canonical job statuses (CONTRACT §3). Raw values are the wire strings and never change.
public enum JobStatus: String, Sendable, CaseIterable, Codable {
    case created, open, dispatched, assigned, accepted, scheduled
    case enRoute = "en_route"
    case onSite = "on_site"
    case offSite = "off_site"
    case incomplete
    case inReview = "in_review"
    case completed, approved, closed, cancelled, failed, unknown
}

/// The vendor's own words for a status: its code and/or its name, both as strings.
public struct VendorStatus: Sendable, Equatable, Hashable {
    public var code: String?
    public var name: String?

    /// Nil when neither is known, so that "the event says nothing about status" stays null on the wire.
    public init?(code: String?, name: String?) {
        guard code != nil || name != nil else { return nil }
        self.code = code
        self.name = name
    }

    public var json: JSONValue {
        .object(["code": .string(code), "name": .string(name)])
    }
}
