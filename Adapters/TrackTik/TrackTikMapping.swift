import FieldgateModel

/// Maps one TrackTik entity to the canonical event for its route (CONTRACT §4, TrackTik).
struct TrackTikMapping {
    /// Dispatch tasks have ~35 members, most of them read: hashed once instead of scanned per field.
    let entity: JSONMemberIndex
    let entityID: String
    let tenantStatusNames: StatusNameTable

    func adapt(_ route: TrackTikRoute) -> AdaptedEvent {
        switch route {
        case .workflowInstanceLogs, .workflowInstanceLogsCreated, .workflowInstanceLogsUpdated:
            workflowInstanceLog(route)
        case .dispatchTasksCreated: dispatchTask(route, type: .jobCreated)
        case .dispatchTasksUpdated: dispatchTask(route, type: .jobUpdated)
        case .reportsCreated: report(route, type: .jobAttachmentAdded)
        case .reportsUpdated: report(route, type: .jobAttachmentUpdated)
        case .employeesCreated: employee(route, type: .accountCreated)
        case .employeesUpdated: employee(route, type: .accountUpdated)
        }
    }

    // MARK: Workflow instance logs

    /// A log entry records one status transition of a workflow instance, whose dispatch task is the job.
    ///
    /// The job is known only when the subscription includes `workflowInstance` (then the instance's
    /// `dispatchTask` is an id, or an object too when `workflowInstance.dispatchTask` is included); a bare
    /// instance id does not say which task it belongs to.
    func workflowInstanceLog(_ route: TrackTikRoute) -> AdaptedEvent {
        let instance = entity.object("workflowInstance")
        let (status, vendorStatus) = logStatus()
        var detail = JSONObjectWriter()
        detail.string("logId", entityID)
        if let instance {
            detail.object("workflowInstance") { summary in
                summary.text("id", instance["id"])
                summary.text("workflowId", Self.relation(instance["workflow"]))
                summary.text("dispatchTaskId", Self.relation(instance["dispatchTask"]))
                summary.text("currentStatusId", Self.relation(instance["currentStatus"]))
                summary.timestamp("startedAt", Self.time(instance["startedOn"]))
            }
        } else if let bareID = entity["workflowInstance"], bareID.hasText {
            detail.object("workflowInstance") { $0.text("id", bareID) }
        }
        if let user = entity.object("user") {
            detail.object("changedBy") { Self.person(user, into: &$0) }
        } else if let userID = entity["user"], userID.hasText {
            detail.object("changedBy") { $0.text("id", userID) }
        }
        detail.text("timeZone", entity["timeZone"])
        return AdaptedEvent(
            type: .jobStatusChanged,
            vendorEvent: route.rawValue,
            job: JobState(
                id: Self.relation(instance?["dispatchTask"])?.nonEmptyText,
                status: status,
                vendorStatus: vendorStatus
            ),
            occurredAt: Self.time(entity["createdOn"]),
            detail: detail.finish(),
            canonicalContent: []
        )
    }

    /// The status object's name, then its tag, through the tenant's names and the built-in table; a bare status
    /// id (a subscription without `include=status`) says which status but not what it means.
    func logStatus() -> (JobStatus?, VendorStatus?) {
        guard let status = entity["status"], !status.isNull else { return (nil, nil) }
        if status.isObject {
            let name = status.text("name")
            let tag = status.text("tag")
            guard name != nil || tag != nil || status.text("id") != nil else { return (nil, nil) }
            let canonical = [name, tag].lazy.compactMap { $0 }.compactMap(lookup).first ?? .unknown
            return (canonical, VendorStatus(code: status.text("id"), name: name ?? tag))
        }
        guard let code = status.nonEmptyText else { return (nil, nil) }
        return (.unknown, VendorStatus(code: code, name: nil))
    }

    func lookup(_ name: String) -> JobStatus? {
        tenantStatusNames[name] ?? Self.statusNames[name]
    }

    static let statusNames = StatusNameTable([
        .created: ["new alarm", "new", "new call", "created"],
        .dispatched: ["dispatched"],
        .assigned: ["assigned", "accept pending"],
        .accepted: ["accepted", "acknowledged"],
        .enRoute: ["en route", "on the way", "on my way", "responding"],
        .onSite: ["on site", "onsite", "arrived", "on scene"],
        .offSite: ["off site", "left site", "departed"],
        .completed: ["done", "completed", "complete", "resolved"],
        .closed: ["closed"],
        .cancelled: ["cancelled", "canceled"],
        .failed: ["failed"],
        .inReview: ["in review"],
        .open: ["open", "refused"],
    ])

    // MARK: Dispatch tasks

    /// A dispatch task is the job itself; its own status is only OPEN or CLOSED.
    func dispatchTask(_ route: TrackTikRoute, type: EventType) -> AdaptedEvent {
        let vendorStatus = entity.text("status")
        let status: JobStatus? =
            switch vendorStatus.map(StatusName.init)?.normalized {
            case nil: nil
            case "open": .open
            case "closed": .closed
            default: .unknown
            }
        var detail = JSONObjectWriter()
        detail.object("dispatchTask") { task in
            task.string("id", entityID)
            task.text("customId", entity["customId"])
            task.text("priority", entity["priority"])
            task.text("taskType", Self.relation(entity["taskType"]))
            task.text("instructions", entity["taskInstructions"])
            task.text("scheduled", entity["scheduled"])
            task.timestamp("startAt", Self.time(entity.text("startDateTime") ?? entity.text("startedOn")))
            task.timestamp("endAt", Self.time(entity.text("endDateTime") ?? entity.text("endedOn")))
            task.timestamp("closedAt", Self.time(entity["closedOn"]))
            task.text("assignedUserId", Self.relation(entity["assignedUser"]))
            task.text("clientId", Self.relation(entity["client"]))
            task.text("accountId", Self.relation(entity["account"]))
            task.text("locationId", Self.relation(entity["location"]))
            // The link from a job to its report: a report event itself does not name its dispatch task.
            task.text("reportId", Self.relation(entity["report"]))
        }
        if let instance = entity.object("workflowInstance") {
            detail.object("workflowInstance") { summary in
                summary.text("id", instance["id"])
                summary.text("workflowId", Self.relation(instance["workflow"]))
                summary.text("currentStatusId", Self.relation(instance["currentStatus"]))
            }
        } else if let bareID = entity["workflowInstance"], bareID.hasText {
            detail.object("workflowInstance") { $0.text("id", bareID) }
        }
        if let schedule = Self.time(entity["startDateTime"]) {
            detail.object("schedule") { $0.timestamp("start", schedule) }
        }
        return AdaptedEvent(
            type: type,
            vendorEvent: route.rawValue,
            job: JobState(id: entityID, status: status, vendorStatus: VendorStatus(code: nil, name: vendorStatus)),
            occurredAt: nil,
            detail: detail.finish(),
            canonicalContent: []
        )
    }

    // MARK: Reports

    /// A report is attached to the site's record and names no dispatch task, so its job is unknown here; the
    /// dispatch task names its report instead (`detail.dispatchTask.reportId` of the task's events). An update
    /// (a mobile draft completed, a supervisor's approval) carries the whole report again.
    func report(_ route: TrackTikRoute, type: EventType) -> AdaptedEvent {
        var detail = JSONObjectWriter()
        detail.object("attachment") { attachment in
            attachment.string("kind", "report")
            attachment.string("id", entityID)
        }
        detail.object("report") { report in
            report.string("id", entityID)
            report.text("templateId", Self.relation(entity["reportTemplate"]))
            report.text("accountId", Self.relation(entity["account"]))
            report.text("createdBy", Self.relation(entity["createdBy"]))
            report.text("status", entity["status"])
            if let fields = entity["reportFields"], fields.isArray {
                report.array("fields") { list in
                    for field in fields.elements {
                        list.element { entry in
                            if field.isObject {
                                entry.text("id", field["id"])
                                entry.textOrNull("field", Self.relation(field["field"]))
                                entry.value("value", field["value"])
                            } else {
                                // Not included: the report field's own id, with nothing known about it.
                                entry.text("id", field)
                                entry.textOrNull("field", nil)
                                entry.value("value", nil)
                            }
                        }
                    }
                }
            }
        }
        Self.location(entity.object("geoLocation"), into: &detail)
        return AdaptedEvent(
            type: type,
            vendorEvent: route.rawValue,
            job: JobState(id: nil),
            occurredAt: Self.time(entity["createdOn"]),
            detail: detail.finish(),
            canonicalContent: []
        )
    }

    // MARK: Employees

    func employee(_ route: TrackTikRoute, type: EventType) -> AdaptedEvent {
        var detail = JSONObjectWriter()
        detail.object("account") { account in
            // The person's `id` is the entity's own.
            Self.person(entity, into: &account)
            account.text("phone", entity["primaryPhone"])
            account.text("status", entity["status"])
        }
        return AdaptedEvent(
            type: type,
            vendorEvent: route.rawValue,
            job: nil,
            occurredAt: nil,
            detail: detail.finish(),
            canonicalContent: []
        )
    }

    // MARK: Shared pieces

    /// A TrackTik relation as its id: the related entity's id as sent (a number or a string), or the `id` of the
    /// related object when the subscription includes the relation (`include: [workflowInstance, …]`).
    static func relation(_ element: JSONElement?) -> JSONElement? {
        guard let element else { return nil }
        return element.isObject ? element["id"] : element
    }

    static func person(_ user: some JSONMemberLookup, into person: inout JSONObjectWriter) {
        person.text("id", user["id"])
        person.text("customId", user["customId"])
        if let name = user["name"], name.hasText {
            person.text("name", name)
        } else {
            let joined = [user.text("firstName"), user.text("lastName")].compactMap { $0 }.joined(separator: " ")
            person.string("name", joined.isEmpty ? nil : joined)
        }
        person.text("email", user["email"])
        person.text("jobTitle", user["jobTitle"])
    }

    static func location(_ geo: JSONElement?, into detail: inout JSONObjectWriter) {
        guard let geo, let latitude = geo["latitude"]?.numberText, let longitude = geo["longitude"]?.numberText
        else { return }
        detail.object("location") { location in
            location.number("latitude", latitude)
            location.number("longitude", longitude)
        }
    }

    /// TrackTik writes ISO times with offsets; the canonical form is UTC. Text that is not a time is left out
    /// rather than passed off as UTC (the raw request keeps it).
    static func time(_ text: String?) -> UTCTimestamp? {
        text.flatMap(UTCTimestamp.init(rfc3339:))
    }

    static func time(_ element: JSONElement?) -> UTCTimestamp? {
        time(element?.nonEmptyText)
    }
}
