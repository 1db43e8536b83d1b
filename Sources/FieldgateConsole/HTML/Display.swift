import FieldgateCore
import FieldgateModel
import HTTPTypes
import Hummingbird
import Logging

/// How values read on a page: times in UTC, ages, counts.
enum Display {
    /// `2026-10-26 21:14:06Z`.
    static func time(_ instant: UTCTimestamp?) -> String {
        guard let instant else { return "—" }
        return instant.rfc3339().replacing("T", with: " ")
    }

    /// `3 min ago`, `5 h ago`, `2 d ago`; `in 4 min` for a time ahead.
    static func age(_ instant: UTCTimestamp?, now: UTCTimestamp) -> String {
        guard let instant else { return "never" }
        let seconds = (now.millisecondsSinceEpoch - instant.millisecondsSinceEpoch) / 1000
        let (magnitude, suffix) = seconds >= 0 ? (seconds, " ago") : (-seconds, "")
        let prefix = seconds >= 0 ? "" : "in "
        let text: String
        switch magnitude {
        case ..<60: text = "\(magnitude) s"
        case ..<3600: text = "\(magnitude / 60) min"
        case ..<172_800: text = "\(magnitude / 3600) h"
        default: text = "\(magnitude / 86_400) d"
        }
        return prefix + text + suffix
    }

    static func percent(_ rate: Double?) -> String {
        guard let rate else { return "—" }
        let tenths = Int((rate * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10) %"
    }

    /// A time from a filter field: RFC 3339, or what `<input type="datetime-local">` sends (`2026-10-26T21:14`,
    /// read as UTC like every time in the console).
    static func parseTime(_ text: String?) -> UTCTimestamp? {
        guard let text, !text.isEmpty else { return nil }
        if let instant = UTCTimestamp(rfc3339: text) { return instant }
        if let instant = UTCTimestamp(rfc3339: text + ":00Z") { return instant }
        return UTCTimestamp(rfc3339: text + "Z")
    }

    /// The value for a `datetime-local` input.
    static func inputTime(_ instant: UTCTimestamp?) -> String? {
        guard let instant else { return nil }
        return String(instant.rfc3339().prefix(16))
    }
}

/// The facts of an event worth a line on a page: what the note says, which site, who is assigned. Every value is
/// vendor text and is written as text.
enum EventFacts {
    static func facts(_ event: CanonicalEvent) -> [(label: String, value: String)] {
        var facts: [(String, String)] = []
        let detail = event.detail
        func text(_ value: JSONValue?) -> String? {
            guard let value else { return nil }
            switch value {
            case .string(let text): return text
            case .number(let text): return text
            case .bool(let flag): return flag ? "yes" : "no"
            case .null: return nil
            default: return value.jsonText
            }
        }
        if let job = event.job, let status = job.status {
            if let previous = job.previousStatus {
                facts.append(("Status", "\(previous.rawValue) → \(status.rawValue)"))
            } else {
                facts.append(("Status", status.rawValue))
            }
            if let vendor = job.vendorStatus {
                facts.append(("Vendor status", [vendor.code, vendor.name].compactMap { $0 }.joined(separator: " ")))
            }
        }
        if let note = detail["note"] {
            if let body = text(note["text"]) { facts.append(("Note", body)) }
            if let author = text(note["author"]) { facts.append(("Note by", author)) }
        }
        if let site = detail["site"], let name = text(site["name"]) { facts.append(("Site", name)) }
        if let account = detail["account"], let name = text(account["name"]) { facts.append(("Account", name)) }
        if let assignee = detail["assignee"] {
            if let name = text(assignee["name"]) ?? text(assignee["username"]) { facts.append(("Assignee", name)) }
        } else if detail.keys.contains("assignee") {
            facts.append(("Assignee", "unassigned"))
        }
        if let schedule = detail["schedule"],
            let start = text(schedule["start"]) ?? text(schedule["startLocal"]) ?? text(schedule["day"])
        {
            facts.append(("Scheduled", start))
        }
        if let attachment = detail["attachment"] {
            let name = text(attachment["filename"]) ?? text(attachment["title"]) ?? text(attachment["id"]) ?? ""
            facts.append(("Attachment", [text(attachment["kind"]), name].compactMap { $0 }.joined(separator: ": ")))
            if let url = text(attachment["url"]) { facts.append(("Attachment URL", url)) }
        }
        if let task = detail["task"] {
            let change = text(task["change"]) ?? "changed"
            facts.append(("Task \(change)", text(task["description"]) ?? text(task["id"]) ?? ""))
        }
        if let question = detail["question"] {
            facts.append(("Question", text(question["text"]) ?? text(question["id"]) ?? ""))
            facts.append(("Answer", text(question["answer"]) ?? "—"))
        }
        if let alert = detail["alert"], let type = text(alert["type"]) { facts.append(("Alert", type)) }
        if let place = detail["place"], let name = text(place["name"]) ?? text(place["id"]) {
            facts.append(("Place", name))
        }
        return facts
    }

    /// One line for a table row, at most `limit` characters.
    static func summary(_ event: CanonicalEvent, limit: Int = 160) -> String {
        let line = facts(event).filter { $0.label != "Vendor status" && $0.label != "Note by" }
            .map { $0.label == "Status" ? $0.value : "\($0.label): \($0.value)" }
            .joined(separator: " · ")
        return line.count > limit ? String(line.prefix(limit - 1)) + "…" : line
    }
}
