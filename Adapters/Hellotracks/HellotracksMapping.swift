import FieldgateModel

/// Maps a Hellotracks callback to its canonical event (CONTRACT §4, Hellotracks).
struct HellotracksMapping {
    let id: String
    let action: HellotracksAction
    let data: JSONElement

    // MARK: Jobs

    /// Job callbacks carry the job object(s) in `data`; the first one describes the job named by `id`.
    func job() -> AdaptedEvent {
        // One hash table for the ~45 members this reads ~35 of.
        let job = JSONMemberIndex(data.firstElement!)
        var detail = JSONObject()
        detail.set("orderId", text: Self.nonZero(job.text("orderId")))
        detail.set("externalId", text: job.text("uidSecondary"))
        detail.set("priority", text: job.text("priority"))
        if let worker = job.text("worker") {
            var assignee = JSONObject()
            assignee["username"] = .string(worker)
            assignee.set("name", text: job.text("workerName"))
            assignee.set("id", text: job.text("receiverUid"))
            detail["assignee"] = .object(assignee)
        }
        var destination = JSONObject()
        destination.set("name", text: job.text("destinationName"))
        destination.set("address", text: job.text("destinationText"))
        destination.set("location", Self.location(lat: job["destinationLat"], lng: job["destinationLng"]))
        if !destination.isEmpty { detail["destination"] = .object(destination) }
        if let placeID = job.text("placeUid") {
            var place = JSONObject()
            place["id"] = .string(placeID)
            place.set("name", text: job.text("placeName"))
            place.set("radiusMeters", Self.positiveNumber(job["radius"]))
            detail["place"] = .object(place)
        }
        var schedule = JSONObject()
        schedule.set("day", text: Self.day(job.text("day")))
        schedule.set("windowStart", text: Self.clock(job.text("windowStart")))
        schedule.set("windowEnd", text: Self.clock(job.text("windowEnd")))
        schedule.set("start", text: Self.time(job["tsScheduled"]))
        schedule.set("onSiteSeconds", Self.positiveNumber(job["onSiteSeconds"]))
        if !schedule.isEmpty { detail["schedule"] = .object(schedule) }
        var contact = JSONObject()
        contact.set("name", text: job.text("contactName"))
        contact.set("phone", text: job.text("contactPhone"))
        contact.set("email", text: job.text("contactEmail"))
        if !contact.isEmpty { detail["contact"] = .object(contact) }
        var notes = JSONObject()
        notes.set("dispatcher", text: job.text("textDispatcher"))
        notes.set("worker", text: job.text("textReceiver"))
        if !notes.isEmpty { detail["notes"] = .object(notes) }
        if let dispatcher = job.text("dispatcherUid") {
            var summary: JSONObject = ["id": .string(dispatcher)]
            summary.set("name", text: job.text("dispatcherName"))
            detail["dispatcher"] = .object(summary)
        }
        var milestones = JSONObject()
        for (key, field) in Self.milestoneFields {
            milestones.set(key, text: Self.time(job[field]))
        }
        if !milestones.isEmpty { detail["milestones"] = .object(milestones) }
        detail.set("signatureName", text: job.text("signatureName"))
        if let fields = job["customFields"], fields.count > 0 {
            detail["customFields"] = .array(
                fields.elements.map { .object(["key": .string($0.text("key")), "value": .string($0.text("val"))]) }
            )
        }
        if data.count > 1 { detail["jobCount"] = .integer(data.count) }
        return AdaptedEvent(
            type: action.eventType,
            vendorEvent: action.rawValue,
            job: AdaptedJob(id: id, status: Self.status(of: job)),
            occurredAt: UTCTimestamp(epochMilliseconds: job["tsSaved"]?.int64 ?? 0),
            detail: detail,
            canonicalContent: []
        )
    }

    static let milestoneFields: KeyValuePairs<String, String> = [
        "created": "tsCreated", "assigned": "tsAssigned", "accepted": "tsAccepted", "rejected": "tsRejected",
        "checkedIn": "tsCheckIn", "checkedOut": "tsCheckOut", "doneSuccess": "tsDoneSuccess",
        "doneFailed": "tsDoneFailed", "signed": "tsSignature",
    ]

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
        var detail = JSONObject()
        detail["checkId"] = .string(id)
        if let place = data.object("place") { detail["place"] = .object(Self.place(place)) }
        if let who = data.object("who") ?? data.object("member") { detail["member"] = .object(Self.member(who)) }
        return AdaptedEvent(
            type: action.eventType,
            vendorEvent: action.rawValue,
            job: nil,
            occurredAt: UTCTimestamp(epochMilliseconds: data["ts"]?.int64 ?? 0),
            detail: detail,
            canonicalContent: []
        )
    }

    // MARK: Alerts

    func alert() -> AdaptedEvent {
        let alert = data.object("alert")!
        var summary = JSONObject()
        summary["id"] = .string(alert.text("id") ?? id)
        summary.set("configId", text: alert.text("config"))
        summary.set("title", text: alert.text("title"))
        summary.set("description", text: alert.text("description"))
        summary.set("message", text: alert.text("message"))
        summary.set("action", text: alert.text("action"))
        summary.set("actionCode", text: alert.text("actionCode"))
        summary.set("checkType", text: data.text("checkType"))
        var detail = JSONObject()
        detail["alert"] = .object(summary)
        if let member = data.object("member") { detail["member"] = .object(Self.member(member)) }
        if let place = data.object("place") { detail["place"] = .object(Self.place(place)) }
        if let zone = data.object("zone") {
            var summary = JSONObject()
            summary.set("id", text: zone.text("uid"))
            summary.set("name", text: zone.text("name"))
            detail["zone"] = .object(summary)
        }
        return AdaptedEvent(
            type: .alertTriggered,
            vendorEvent: action.rawValue,
            job: nil,
            occurredAt: UTCTimestamp(epochMilliseconds: alert["tsCreated"]?.int64 ?? 0),
            detail: detail,
            canonicalContent: []
        )
    }

    // MARK: Shared pieces

    static func place(_ place: JSONElement) -> JSONObject {
        var result = JSONObject()
        result.set("id", text: place.text("uid"))
        result.set("name", text: place.text("name"))
        result.set("address", text: place.text("address"))
        result.set("city", text: place.text("city"))
        result.set("state", text: place.text("state"))
        result.set("postalCode", text: place.text("postalcode"))
        result.set("countryCode", text: place.text("country_code"))
        if let location = place.object("location") {
            result.set("location", Self.location(lat: location["lat"], lng: location["lng"]))
        }
        result.set("radiusMeters", Self.positiveNumber(place["radius"]))
        return result
    }

    static func member(_ member: JSONElement) -> JSONObject {
        var result = JSONObject()
        result.set("id", text: member.text("uid"))
        result.set("name", text: member.text("name"))
        result.set("username", text: member.text("username"))
        return result
    }

    static func location(lat: JSONElement?, lng: JSONElement?) -> JSONValue? {
        guard let latitude = lat?.numberText, let longitude = lng?.numberText else { return nil }
        return .object(["latitude": .number(latitude), "longitude": .number(longitude)])
    }

    /// Hellotracks writes epoch milliseconds and 0 for "not yet".
    static func time(_ element: JSONElement?) -> String? {
        UTCTimestamp(epochMilliseconds: element?.int64 ?? 0)?.rfc3339()
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
    static func positiveNumber(_ element: JSONElement?) -> JSONValue? {
        guard let text = element?.numberText, let value = Double(text), value > 0 else { return nil }
        return .number(text)
    }

    static func nonZero(_ text: String?) -> String? {
        guard let text, text != "0" else { return nil }
        return text
    }
}
