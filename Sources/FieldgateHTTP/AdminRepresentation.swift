import FieldgateCore
import FieldgateModel

import struct Foundation.Data

/// The admin API's JSON: events are written from their stored form, everything else from ``JSONValue``.
enum AdminRepresentation {
    /// `{"event": <CloudEvent>, "raw": <RedactedRequest>, "receivedAt": …}`.
    static func storedEvent(_ stored: StoredEvent) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(2048)
        output.append(contentsOf: #"{"event":"#.utf8)
        stored.event.write(into: &output)
        output.append(contentsOf: #","raw":"#.utf8)
        raw(stored.raw).write(into: &output)
        output.append(contentsOf: #","receivedAt":"#.utf8)
        JSONValue.string(stored.event.receivedAt.rfc3339(alwaysMilliseconds: true)).write(into: &output)
        output.append(UInt8(ascii: "}"))
        return output
    }

    /// `{<extra members>…, "events": [<CloudEvent>…]}`, with `"nextCursor"` when the list is a page.
    static func eventList(
        _ events: [StoredEvent],
        paged: Bool,
        nextCursor: Int64? = nil,
        extra: JSONObject = [:]
    )
        -> [UInt8]
    {
        var output: [UInt8] = [UInt8(ascii: "{")]
        for (key, value) in extra.members {
            JSONValue.string(key).write(into: &output)
            output.append(UInt8(ascii: ":"))
            value.write(into: &output)
            output.append(UInt8(ascii: ","))
        }
        output.append(contentsOf: #""events":["#.utf8)
        for (position, stored) in events.enumerated() {
            if position > 0 { output.append(UInt8(ascii: ",")) }
            stored.event.write(into: &output)
        }
        output.append(UInt8(ascii: "]"))
        if paged {
            output.append(contentsOf: #","nextCursor":"#.utf8)
            cursor(nextCursor).write(into: &output)
        }
        output.append(UInt8(ascii: "}"))
        return output
    }

    /// Mirrors a corpus line (CONTRACT §6): `body` when the bytes are UTF-8, `bodyBase64` otherwise.
    static func raw(_ raw: RedactedRequest) -> JSONValue {
        var object: JSONObject = [
            "method": .string(raw.method),
            "path": .string(raw.path),
            "headers": .array(raw.headers.map { .object(["name": .string($0.name), "value": .string($0.value)]) }),
        ]
        if let text = String(validating: raw.body, as: UTF8.self) {
            object.set("body", .string(text))
        } else {
            object.set("bodyBase64", .string(Data(raw.body).base64EncodedString()))
        }
        return .object(object)
    }

    static func quarantineSummary(_ request: QuarantinedRequest) -> JSONObject {
        [
            "id": .string(request.id),
            "vendor": .string(request.vendor),
            "tenant": .string(request.tenant),
            "routeSuffix": .string(request.routeSuffix),
            "receivedAt": .string(request.receivedAt.rfc3339(alwaysMilliseconds: true)),
            "problem": request.problem.json,
            "replayedAs": .string(request.replayedAs),
            "replayedAt": .string(request.replayedAt?.rfc3339(alwaysMilliseconds: true)),
        ]
    }

    static func quarantinedRequest(_ request: QuarantinedRequest) -> JSONValue {
        var object = quarantineSummary(request)
        object.set("raw", raw(request.raw))
        return .object(object)
    }

    static func quarantineList(_ page: Page<QuarantinedRequest>) -> JSONValue {
        .object([
            "requests": .array(page.items.map { .object(quarantineSummary($0)) }),
            "nextCursor": cursor(page.nextBefore),
        ])
    }

    /// One job as `GET /v1/jobs` lists it and `GET /v1/jobs/{key}` heads its timeline.
    static func jobSummary(_ job: JobSummary) -> JSONObject {
        [
            "key": .string(job.key),
            "vendor": .string(job.vendor),
            "tenant": .string(job.tenant),
            "jobId": .string(job.jobID),
            "status": .string(job.status?.rawValue),
            "vendorStatus": job.vendorStatus?.json ?? .null,
            "statusAt": .string(job.statusAt?.rfc3339()),
            "updatedAt": .string(job.updatedAt.rfc3339()),
            "lastEventAt": .string(job.lastEventAt.rfc3339()),
            "lastEventId": .string(job.lastEventID),
            "eventCount": .integer(job.eventCount),
        ]
    }

    static func cursor(_ sequence: Int64?) -> JSONValue {
        .string(sequence.map { String($0) })
    }
}

/// What `GET /v1/jobs/{key}` answers: the job's events in the order they happened and its latest known status.
struct JobTimeline {
    var key: String
    var events: [StoredEvent]

    /// Ordered by event time, then acceptance: vendors deliver out of order, and the timeline is what happened.
    init(key: String, events: [StoredEvent]) {
        self.key = key
        self.events = events.sorted {
            ($0.event.time, $0.sequence) < ($1.event.time, $1.sequence)
        }
    }

    /// The job as the jobs listing shows it: the same rule (``JobSummary``) over the same events.
    var summary: JobSummary? {
        JobSummary(events: events.map { ($0.event, $0.sequence) })
    }

    var json: [UInt8] {
        guard let summary else {
            return AdminRepresentation.eventList(events, paged: false, extra: ["key": .string(key)])
        }
        return AdminRepresentation.eventList(events, paged: false, extra: AdminRepresentation.jobSummary(summary))
    }
}
