import FieldgateModel

import struct Foundation.Date
import struct Foundation.TimeZone

/// Maps a TechLink event to its canonical event (CONTRACT §4, TechLink).
struct TechLinkMapping {
    let body: JSONElement
    let event: TechLinkEvent
    let eventName: String
    let workOrderID: String?

    /// Most events nest the record in `data`; some (status change, assigned) put fields at the top level.
    var record: JSONElement { body.object("data") ?? body }

    func adapt() -> AdaptedEvent {
        var occurredAt: UTCTimestamp?
        var detail = JSONObject()
        var job = workOrderID.map { JobState(id: $0) }
        var type: EventType

        switch event {
        case .accountCreated, .accountUpdated:
            type = event == .accountCreated ? .accountCreated : .accountUpdated
            detail["account"] = .object(account())
        case .siteCreated, .siteUpdated:
            type = event == .siteCreated ? .siteCreated : .siteUpdated
            detail["site"] = .object(site(record))
        case .workOrderCreated, .workOrderUpdated:
            type = event == .workOrderCreated ? .jobCreated : .jobUpdated
            let code = record.text("status_code")
            let name = record.text("status")
            job?.status = TechLinkStatus.resolve(code: code, name: name)
            job?.vendorStatus = VendorStatus(code: code, name: name)
            detail["workOrder"] = .object(workOrder())
            if record.text("site_id") != nil || record.text("site_name") != nil {
                detail["site"] = .object(site(record))
            }
            if let assignee = person(name: record.text("planned_tech_name"), phone: record.text("planned_tech_phone")) {
                detail["assignee"] = assignee
            }
            if let start = record.text("scheduled_start") {
                detail["schedule"] = .object(localTime(start, prefix: "start"))
            }
            let zone = record.text("timezone")
            occurredAt = (record.text("modified") ?? record.text("created")).flatMap { Self.instant($0, zone: zone) }
        case .workOrderStatusChange:
            type = .jobStatusChanged
            let code = body.text("new_status_code")
            let name = body.text("new_status")
            let oldCode = body.text("old_status_code")
            let oldName = body.text("old_status")
            job?.status = TechLinkStatus.resolve(code: code, name: name)
            job?.vendorStatus = VendorStatus(code: code, name: name)
            job?.previousStatus = TechLinkStatus.resolve(code: oldCode, name: oldName)
            job?.previousVendorStatus = VendorStatus(code: oldCode, name: oldName)
        case .workOrderScheduled:
            type = .jobScheduled
            if let start = record.text("start") ?? record.text("scheduled_start") {
                detail["schedule"] = .object(localTime(start, prefix: "start"))
            }
        case .workOrderAssigned:
            if let assignee = person(name: record.text("planned_tech_name"), phone: record.text("planned_tech_phone")) {
                type = .jobAssigned
                detail["assignee"] = assignee
            } else {
                // A blank technician is TechLink's way of unassigning: an update, not an assignment.
                type = .jobUpdated
                detail["assignee"] = .null
                detail["unassigned"] = true
            }
        case .workOrderTechOnSite:
            type = .jobCheckedIn
            job?.status = .onSite
            detail.set("technician", person(name: record.text("tech_name"), phone: record.text("tech_phone")))
            occurredAt = addTime(to: &detail)
        case .workOrderTechOffSite:
            type = .jobCheckedOut
            let disposition = record.text("disposition")
            let complete =
                disposition.map { ["complete", "completed"].contains(StatusName($0, maximumLength: 9)?.normalized) }
                ?? false
            job?.status = complete ? .completed : .offSite
            job?.vendorStatus = VendorStatus(code: nil, name: disposition)
            detail.set("disposition", text: disposition)
            detail.set("technician", person(name: record.text("tech_name"), phone: record.text("tech_phone")))
            occurredAt = addTime(to: &detail)
        case .workOrderClosed:
            type = .jobCompleted
            job?.status = .closed
        case .workOrderCancelled:
            type = .jobCancelled
            job?.status = .cancelled
        case .workOrderNoteAdded:
            type = .jobNoteAdded
            detail["note"] = .object(note())
        case .workOrderPhotoAdded, .workOrderCloseOutDocumentAdded, .workOrderClientDocumentAdded:
            type = .jobAttachmentAdded
            detail["attachment"] = .object(attachment())
        case .workOrderQuestionAnswered:
            type = .jobQuestionAnswered
            detail["question"] = .object(question())
        case .workOrderTaskAdded, .workOrderTaskUpdated, .workOrderTaskDeleted:
            type = .jobTaskChanged
            detail["task"] = .object(task())
        }
        return AdaptedEvent(
            type: type,
            vendorEvent: eventName,
            job: job,
            occurredAt: occurredAt,
            detail: detail,
            canonicalContent: []
        )
    }

    // MARK: Records

    func account() -> JSONObject {
        var account = JSONObject()
        account.set("id", text: record.text("user_id"))
        account.set("username", text: record.text("username"))
        let name = [record.text("first_name"), record.text("last_name")].compactMap { $0 }.joined(separator: " ")
        account.set("name", text: name.isEmpty ? nil : name)
        account.set("firstName", text: record.text("first_name"))
        account.set("lastName", text: record.text("last_name"))
        account.set("email", text: record.text("email"))
        account.set("phone", text: record.text("phone"))
        account.set("role", text: record.text("role"))
        account.set("active", Self.flag(record["active"]))
        return account
    }

    func site(_ record: JSONElement) -> JSONObject {
        var site = JSONObject()
        site.set("id", text: record.text("site_id"))
        site.set("name", text: record.text("site_name"))
        site.set("storeNumber", text: record.text("store_number"))
        site.set("address", text: record.text("address"))
        site.set("city", text: record.text("city"))
        site.set("state", text: record.text("state"))
        site.set("postalCode", text: record.text("zip"))
        site.set("country", text: record.text("country"))
        site.set("timeZone", text: record.text("timezone"))
        site.set("phone", text: record.text("phone"))
        if record.text("contact_name") != nil || record.text("contact_email") != nil {
            var contact = JSONObject()
            contact.set("name", text: record.text("contact_name"))
            contact.set("email", text: record.text("contact_email"))
            site["contact"] = .object(contact)
        }
        return site
    }

    func workOrder() -> JSONObject {
        var order = JSONObject()
        order.set("id", text: workOrderID)
        order.set("clientPo", text: record.text("client_po"))
        order.set("clientWo", text: record.text("client_wo"))
        order.set("priority", text: record.text("priority"))
        order.set("summary", text: record.text("summary"))
        order.set("requestedDate", text: record.text("requested_date"))
        order.set("createdLocal", text: record.text("created"))
        order.set("modifiedLocal", text: record.text("modified"))
        return order
    }

    func note() -> JSONObject {
        var note = JSONObject()
        note.set("id", text: record.text("note_id"))
        let text = record["note"]?.string ?? ""
        note["text"] = .string(text)
        let html = NoteText.looksLikeHTML(text)
        note["html"] = .bool(html)
        if html { note["plainText"] = .string(NoteText.plainText(fromHTML: text)) }
        note.set("author", text: record.text("author"))
        note.set("internal", Self.flag(record["internal"]))
        note.set("createdLocal", text: record.text("created"))
        return note
    }

    func attachment() -> JSONObject {
        var attachment = JSONObject()
        let kind: String =
            switch event {
            case .workOrderPhotoAdded: "photo"
            case .workOrderCloseOutDocumentAdded: "close-out-document"
            default: "client-document"
            }
        attachment["kind"] = .string(kind)
        attachment.set("id", text: record.text("photo_id") ?? record.text("document_id"))
        attachment.set("url", text: record.text("url"))
        attachment.set("filename", text: record.text("filename"))
        attachment.set("title", text: record.text("title"))
        attachment.set("caption", text: record.text("caption"))
        attachment.set("uploadedBy", text: record.text("uploaded_by"))
        attachment.set("uploadedLocal", text: record.text("uploaded"))
        return attachment
    }

    func question() -> JSONObject {
        var question = JSONObject()
        question.set("id", text: record.text("question_id"))
        question.set("text", text: record.text("question"))
        question["answer"] = record.value("answer") ?? .null
        question.set("required", Self.flag(record["required"]))
        question.set("answeredBy", text: record.text("answered_by"))
        question.set("answeredLocal", text: record.text("answered"))
        return question
    }

    func task() -> JSONObject {
        var task = JSONObject()
        task.set("id", text: record.text("task_id") ?? body.text("task_id"))
        let change: String =
            switch event {
            case .workOrderTaskAdded: "added"
            case .workOrderTaskUpdated: "updated"
            default: "deleted"
            }
        task["change"] = .string(change)
        task.set("description", text: record.text("description"))
        task.set("status", text: record.text("status"))
        task.set("completedLocal", text: record.text("completed"))
        return task
    }

    func person(name: String?, phone: String?) -> JSONValue? {
        guard let name else { return nil }
        var person: JSONObject = ["name": .string(name)]
        person.set("phone", text: phone)
        return .object(person)
    }

    // MARK: Times

    /// Adds `localTime` (as sent) and `time` (UTC, when the zone is known) from the event's `time` field.
    func addTime(to detail: inout JSONObject) -> UTCTimestamp? {
        guard let text = record.text("time") else { return nil }
        detail["localTime"] = .string(text)
        return Self.instant(text, zone: nil)
    }

    /// `<prefix>` in UTC when the zone is known, and `<prefix>Local` exactly as sent.
    func localTime(_ text: String, prefix: String) -> JSONObject {
        var result = JSONObject()
        result.set(prefix, text: Self.instant(text, zone: record.text("timezone"))?.rfc3339())
        result[prefix + "Local"] = .string(text)
        return result
    }

    /// TechLink writes site-local wall-clock times, sometimes with a zone abbreviation (`2019-01-23 01:23:45 PDT`)
    /// and sometimes next to an IANA `timezone` field; without either the instant is unknown.
    static func instant(_ text: String, zone: String?) -> UTCTimestamp? {
        guard let local = LocalDateTime(parsing: text) else { return nil }
        if let instant = local.timestamp { return instant }
        guard local.zoneAbbreviation == nil, let zone, let timeZone = TimeZone(identifier: zone) else { return nil }
        // Two passes find the offset in force at that wall-clock time, including across DST changes.
        let asIfUTC = local.timestamp(utcOffsetSeconds: 0).millisecondsSinceEpoch / 1000
        var offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(asIfUTC)))
        offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(asIfUTC - Int64(offset))))
        return local.timestamp(utcOffsetSeconds: offset)
    }

    /// TechLink writes booleans as "0"/"1" strings.
    static func flag(_ element: JSONElement?) -> JSONValue? {
        guard let element else { return nil }
        if let bool = element.bool { return .bool(bool) }
        switch element.nonEmptyText {
        case "1", "true", "yes": return .bool(true)
        case "0", "false", "no": return .bool(false)
        default: return nil
        }
    }
}
