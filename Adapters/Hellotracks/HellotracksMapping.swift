import FieldgateModel

/// Maps a Hellotracks callback to its canonical event (CONTRACT §4, Hellotracks).
struct HellotracksMapping {
    let id: String
    let action: HellotracksAction
    let data: JSONElement

    // MARK: Jobs

    /// Job callbacks carry the job object(s) in `data`; the event's job is the one whose `id` is the form's
    /// `id`, else the first (CONTRACT §4).
    func job() -> AdaptedEvent {
        // One hash table for the ~45 members this reads ~35 of.
        let job = JSONMemberIndex(Self.element(of: data, id: id))
        var detail = JSONObjectWriter()
        detail.string("orderId", Self.nonZero(job.text("orderId")))
        detail.text("externalId", job["uidSecondary"])
        detail.text("priority", job["priority"])
        if let worker = job["worker"], worker.hasText {
            detail.object("assignee") { assignee in
                assignee.text("username", worker)
                assignee.text("name", job["workerName"])
                assignee.text("id", job["receiverUid"])
            }
        }
        detail.object("destination", omitIfEmpty: true) { destination in
            destination.text("name", job["destinationName"])
            destination.text("address", job["destinationText"])
            Self.location(lat: job["destinationLat"], lng: job["destinationLng"], into: &destination)
        }
        if let placeID = job["placeUid"], placeID.hasText {
            detail.object("place") { place in
                place.text("id", placeID)
                place.text("name", job["placeName"])
                place.number("radiusMeters", Self.positiveNumber(job["radius"]))
            }
        }
        detail.object("schedule", omitIfEmpty: true) { schedule in
            schedule.string("day", Self.day(job.text("day")))
            schedule.string("windowStart", Self.clock(job.text("windowStart")))
            schedule.string("windowEnd", Self.clock(job.text("windowEnd")))
            schedule.timestamp("start", Self.time(job["tsScheduled"]))
            schedule.number("onSiteSeconds", Self.positiveNumber(job["onSiteSeconds"]))
        }
        detail.object("contact", omitIfEmpty: true) { contact in
            contact.text("name", job["contactName"])
            contact.text("phone", job["contactPhone"])
            contact.text("email", job["contactEmail"])
        }
        detail.object("notes", omitIfEmpty: true) { notes in
            notes.text("dispatcher", job["textDispatcher"])
            notes.text("worker", job["textReceiver"])
        }
        if let dispatcher = job["dispatcherUid"], dispatcher.hasText {
            detail.object("dispatcher") { summary in
                summary.text("id", dispatcher)
                summary.text("name", job["dispatcherName"])
            }
        }
        detail.object("milestones", omitIfEmpty: true) { milestones in
            milestones.timestamp("created", Self.time(job["tsCreated"]))
            milestones.timestamp("assigned", Self.time(job["tsAssigned"]))
            milestones.timestamp("accepted", Self.time(job["tsAccepted"]))
            milestones.timestamp("rejected", Self.time(job["tsRejected"]))
            milestones.timestamp("checkedIn", Self.time(job["tsCheckIn"]))
            milestones.timestamp("checkedOut", Self.time(job["tsCheckOut"]))
            milestones.timestamp("doneSuccess", Self.time(job["tsDoneSuccess"]))
            milestones.timestamp("doneFailed", Self.time(job["tsDoneFailed"]))
            milestones.timestamp("signed", Self.time(job["tsSignature"]))
        }
        detail.text("signatureName", job["signatureName"])
        if let fields = job["customFields"], fields.count > 0 {
            detail.array("customFields") { list in
                for field in fields.elements {
                    list.element { entry in
                        entry.textOrNull("key", field["key"])
                        entry.textOrNull("value", field["val"])
                    }
                }
            }
        }
        if data.count > 1 { detail.integer("jobCount", data.count) }
        return AdaptedEvent(
            type: action.eventType,
            vendorEvent: action.rawValue,
            job: JobState(id: id, status: Self.status(of: job)),
            occurredAt: UTCTimestamp(epochMilliseconds: job["tsSaved"]?.int64 ?? 0),
            detail: detail.finish(),
            canonicalContent: []
        )
    }

    /// The element of a job callback's `data` whose `id` equals the form's `id`, else `data[0]`: a callback
    /// about several jobs (a route, a batch) names the one it is about in the form. One linear pass.
    static func element(of data: JSONElement, id: String) -> JSONElement {
        // The usual callback carries one job: nothing to choose, nothing to allocate.
        guard data.count > 1 else { return data.firstElement! }
        for element in data.elements where element["id"]?.scalarText == id {
            return element
        }
        return data.firstElement!
    }

    /// The job object has no status field, so status follows its milestones (CONTRACT §4): outcome first, then
    /// presence on site, then the latest of accepted/rejected/assigned, then whether anyone is assigned.
    static func status(of job: JSONMemberIndex) -> JobStatus {
        func stamp(_ key: String) -> Int64 { max(job[key]?.int64 ?? 0, 0) }
        if stamp("tsDoneFailed") > 0 { return .failed }
        if stamp("tsDoneSuccess") > 0 { return .completed }
        if stamp("tsCheckOut") > 0 { return .offSite }
        if stamp("tsCheckIn") > 0 { return .onSite }
        // Ties go to the earlier entry: accepted > open > assigned.
        let candidates: [(JobStatus, Int64)] = [
            (.accepted, stamp("tsAccepted")), (.open, stamp("tsRejected")), (.assigned, stamp("tsAssigned")),
        ]
        if let latest = candidates.filter({ $0.1 > 0 }).max(by: { $0.1 < $1.1 }) {
            let best = candidates.first { $0.1 == latest.1 }!
            return best.0
        }
        if job.text("worker") != nil { return .assigned }
        return .created
    }

    // MARK: Places

    func placeCheck() -> AdaptedEvent {
        var detail = JSONObjectWriter()
        detail.string("checkId", id)
        if let place = data.object("place") { detail.object("place") { Self.place(place, into: &$0) } }
        if let who = data.object("who") ?? data.object("member") {
            detail.object("member") { Self.member(who, into: &$0) }
        }
        return AdaptedEvent(
            type: action.eventType,
            vendorEvent: action.rawValue,
            job: nil,
            occurredAt: UTCTimestamp(epochMilliseconds: data["ts"]?.int64 ?? 0),
            detail: detail.finish(),
            canonicalContent: []
        )
    }

    // MARK: Alerts

    func alert() -> AdaptedEvent {
        let alert = data.object("alert")!
        var detail = JSONObjectWriter()
        detail.object("alert") { summary in
            if let alertID = alert["id"], alertID.hasText {
                summary.text("id", alertID)
            } else {
                summary.string("id", id)
            }
            summary.text("configId", alert["config"])
            summary.text("companyUid", alert["companyUid"])
            summary.text("type", alert["type"])
            if let interval = alert["interval"], interval.hasText { summary.value("interval", interval) }
            summary.text("title", alert["title"])
            summary.text("description", alert["description"])
            summary.text("message", alert["message"])
            summary.text("action", alert["action"])
            summary.text("actionCode", alert["actionCode"])
            summary.text("checkType", data["checkType"])
        }
        if let member = data.object("member") { detail.object("member") { Self.member(member, into: &$0) } }
        if let place = data.object("place") { detail.object("place") { Self.place(place, into: &$0) } }
        if let zone = data.object("zone") {
            detail.object("zone") { summary in
                summary.text("id", zone["uid"])
                summary.text("name", zone["name"])
            }
        }
        return AdaptedEvent(
            type: .alertTriggered,
            vendorEvent: action.rawValue,
            job: nil,
            occurredAt: UTCTimestamp(epochMilliseconds: alert["tsCreated"]?.int64 ?? 0),
            detail: detail.finish(),
            canonicalContent: []
        )
    }

    // MARK: Shared pieces

    static func place(_ place: JSONElement, into result: inout JSONObjectWriter) {
        result.text("id", place["uid"])
        result.text("name", place["name"])
        result.text("address", place["address"])
        result.text("city", place["city"])
        result.text("state", place["state"])
        result.text("postalCode", place["postalcode"])
        result.text("countryCode", place["country_code"])
        if let location = place.object("location") {
            Self.location(lat: location["lat"], lng: location["lng"], into: &result)
        }
        result.number("radiusMeters", Self.positiveNumber(place["radius"]))
    }

    static func member(_ member: JSONElement, into result: inout JSONObjectWriter) {
        result.text("id", member["uid"])
        result.text("name", member["name"])
        result.text("username", member["username"])
    }

    static func location(lat: JSONElement?, lng: JSONElement?, into result: inout JSONObjectWriter) {
        guard let latitude = lat?.numberText, let longitude = lng?.numberText else { return }
        result.object("location") { location in
            location.number("latitude", latitude)
            location.number("longitude", longitude)
        }
    }

    /// Hellotracks writes epoch milliseconds and 0 for "not yet".
    static func time(_ element: JSONElement?) -> UTCTimestamp? {
        UTCTimestamp(epochMilliseconds: element?.int64 ?? 0)
    }

    /// `20260915` → `2026-09-15`.
    static func day(_ text: String?) -> String? {
        guard var text, text.utf8.count == 8, text != "00000000" else { return nil }
        return text.withUTF8 { digits -> String? in
            guard digits.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else { return nil }
            return String(unsafeUninitializedCapacity: 10) { output in
                var written = 0
                for (position, digit) in digits.enumerated() {
                    if position == 4 || position == 6 {
                        output[written] = UInt8(ascii: "-")
                        written += 1
                    }
                    output[written] = digit
                    written += 1
                }
                return written
            }
        }
    }

    /// Time-of-day windows are written as hhmm integers (`930` = 09:30, `2400` = end of day).
    static func clock(_ text: String?) -> String? {
        guard let text, let value = Int(text), value >= 0, value <= 2400, value % 100 < 60 else { return nil }
        let hours = value / 100
        let minutes = value % 100
        return (hours < 10 ? "0" : "") + String(hours) + ":" + (minutes < 10 ? "0" : "") + String(minutes)
    }

    /// A JSON number greater than zero, kept as written; anything else (0 means "not set") is left out.
    static func positiveNumber(_ element: JSONElement?) -> String? {
        guard let text = element?.numberText, let value = Double(text), value > 0 else { return nil }
        return text
    }

    static func nonZero(_ text: String?) -> String? {
        guard let text, text != "0" else { return nil }
        return text
    }
}
