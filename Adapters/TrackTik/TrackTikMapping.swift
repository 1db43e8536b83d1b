import FieldgateModel

/// Maps one TrackTik entity to the canonical event for its route (CONTRACT §4, TrackTik).
struct TrackTikMapping {
    let entity: JSONElement
    let entityID: String
    let tenantStatusNames: StatusNameTable

    func adapt(_ route: TrackTikRoute) -> AdaptedEvent {
        switch route {
        case .workflowInstanceLogs, .workflowInstanceLogsCreated, .workflowInstanceLogsUpdated:
            workflowInstanceLog(route)
        case .dispatchTasksCreated: dispatchTask(route, type: .jobCreated)
        case .dispatchTasksUpdated: dispatchTask(route, type: .jobUpdated)
        case .reportsCreated: report(route)
        case .employeesCreated: employee(route, type: .accountCreated)
        case .employeesUpdated: employee(route, type: .accountUpdated)
        }
    }

    // MARK: Workflow instance logs

    /// A log entry records one status transition of a workflow instance, whose dispatch task is the job.
    func workflowInstanceLog(_ route: TrackTikRoute) -> AdaptedEvent {
        let instance = entity.object("workflowInstance")
        let (status, vendorStatus) = logStatus()
        var detail = JSONObject()
        detail["logId"] = .string(entityID)
        if let instance {
            var summary = JSONObject()
            summary.set("id", text: instance.text("id"))
            summary.set("workflowId", text: instance.text("workflow"))
            summary.set("dispatchTaskId", text: instance.text("dispatchTask"))
            summary.set("currentStatusId", text: instance.text("currentStatus"))
            summary.set("startedAt", text: Self.utc(instance.text("startedOn")))
            detail["workflowInstance"] = .object(summary)
        } else if let bareID = entity.text("workflowInstance") {
            detail["workflowInstance"] = .object(["id": .string(bareID)])
        }
        if let user = entity.object("user") {
            detail["changedBy"] = .object(Self.person(user))
        } else if let userID = entity.text("user") {
            detail["changedBy"] = .object(["id": .string(userID)])
        }
        detail.set("timeZone", text: entity.text("timeZone"))
        return AdaptedEvent(
            type: .jobStatusChanged,
            vendorEvent: route.rawValue,
            job: AdaptedJob(id: instance?.text("dispatchTask"), status: status, vendorStatus: vendorStatus),
            occurredAt: entity.text("createdOn").flatMap(UTCTimestamp.init(rfc3339:)),
            detail: detail,
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
        var task = JSONObject()
        task["id"] = .string(entityID)
        task.set("customId", text: entity.text("customId"))
        task.set("priority", text: entity.text("priority"))
        task.set("taskType", text: entity.text("taskType"))
        task.set("instructions", text: entity.text("taskInstructions"))
        task.set("scheduled", text: entity.text("scheduled"))
        task.set("startAt", text: Self.utc(entity.text("startDateTime") ?? entity.text("startedOn")))
        task.set("endAt", text: Self.utc(entity.text("endDateTime") ?? entity.text("endedOn")))
        task.set("closedAt", text: Self.utc(entity.text("closedOn")))
        task.set("assignedUserId", text: entity.text("assignedUser"))
        task.set("clientId", text: entity.text("client"))
        task.set("accountId", text: entity.text("account"))
        task.set("locationId", text: entity.text("location"))
        task.set("reportId", text: entity.text("report"))
        var detail = JSONObject()
        detail["dispatchTask"] = .object(task)
        if let instance = entity.object("workflowInstance") {
            var summary = JSONObject()
            summary.set("id", text: instance.text("id"))
            summary.set("workflowId", text: instance.text("workflow"))
            summary.set("currentStatusId", text: instance.text("currentStatus"))
            detail["workflowInstance"] = .object(summary)
        }
        if let schedule = Self.utc(entity.text("startDateTime")) {
            detail["schedule"] = .object(["start": .string(schedule)])
        }
        return AdaptedEvent(
            type: type,
            vendorEvent: route.rawValue,
            job: AdaptedJob(id: entityID, status: status, vendorStatus: VendorStatus(code: nil, name: vendorStatus)),
            occurredAt: nil,
            detail: detail,
            canonicalContent: []
        )
    }

    // MARK: Reports

    /// A submitted report is attached to the site's record; TrackTik does not link it to a dispatch task.
    func report(_ route: TrackTikRoute) -> AdaptedEvent {
        var report = JSONObject()
        report["id"] = .string(entityID)
        report.set("templateId", text: entity.text("reportTemplate"))
        report.set("accountId", text: entity.text("account"))
        report.set("createdBy", text: entity.text("createdBy"))
        report.set("status", text: entity.text("status"))
        if let fields = entity["reportFields"], fields.isArray {
            report["fields"] = .array(
                fields.elements.map { field in
                    .object(["field": .string(field.text("field")), "value": field.value("value") ?? .null])
                }
            )
        }
        var detail = JSONObject()
        detail["attachment"] = .object(["kind": "report", "id": .string(entityID)])
        detail["report"] = .object(report)
        if let location = Self.location(entity.object("geoLocation")) { detail["location"] = location }
        return AdaptedEvent(
            type: .jobAttachmentAdded,
            vendorEvent: route.rawValue,
            job: AdaptedJob(id: nil),
            occurredAt: entity.text("createdOn").flatMap(UTCTimestamp.init(rfc3339:)),
            detail: detail,
            canonicalContent: []
        )
    }

    // MARK: Employees

    func employee(_ route: TrackTikRoute, type: EventType) -> AdaptedEvent {
        var account = Self.person(entity)
        account["id"] = .string(entityID)
        account.set("phone", text: entity.text("primaryPhone"))
        account.set("status", text: entity.text("status"))
        return AdaptedEvent(
            type: type,
            vendorEvent: route.rawValue,
            job: nil,
            occurredAt: nil,
            detail: ["account": .object(account)],
            canonicalContent: []
        )
    }

    // MARK: Shared pieces

    static func person(_ user: JSONElement) -> JSONObject {
        var person = JSONObject()
        person.set("id", text: user.text("id"))
        person.set("customId", text: user.text("customId"))
        let joined = [user.text("firstName"), user.text("lastName")].compactMap { $0 }.joined(separator: " ")
        person.set("name", text: user.text("name") ?? (joined.isEmpty ? nil : joined))
        person.set("email", text: user.text("email"))
        person.set("jobTitle", text: user.text("jobTitle"))
        return person
    }

    static func location(_ geo: JSONElement?) -> JSONValue? {
        guard let geo, let latitude = geo["latitude"]?.numberText, let longitude = geo["longitude"]?.numberText
        else { return nil }
        return .object(["latitude": .number(latitude), "longitude": .number(longitude)])
    }

    /// TrackTik writes ISO times with offsets; the canonical form is UTC. Text that is not a time is left out
    /// rather than passed off as UTC (the raw request keeps it).
    static func utc(_ text: String?) -> String? {
        text.flatMap(UTCTimestamp.init(rfc3339:))?.rfc3339()
    }
}
