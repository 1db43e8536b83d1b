/// A canonical job/status event: CloudEvents 1.0 in JSON structured mode (CONTRACT §3).
public struct CanonicalEvent: Sendable, Equatable {
    /// 32 lowercase hex characters derived from the dedupe key; the same delivery always has the same ID.
    public var id: String
    public var type: EventType
    public var time: UTCTimestamp
    public var vendor: String
    public var tenant: String
    public var vendorEvent: String
    public var receivedAt: UTCTimestamp
    /// Nil for site, account, place and alert events.
    public var job: JobState?
    public var detail: JSONObject

    public init(
        id: String,
        type: EventType,
        time: UTCTimestamp,
        vendor: String,
        tenant: String,
        vendorEvent: String,
        receivedAt: UTCTimestamp,
        job: JobState?,
        detail: JSONObject
    ) {
        self.id = id
        self.type = type
        self.time = time
        self.vendor = vendor
        self.tenant = tenant
        self.vendorEvent = vendorEvent
        self.receivedAt = receivedAt
        self.job = job
        self.detail = detail
    }

    public static let specVersion = "1.0"

    /// `/fieldgate/<vendor>/<tenant>`.
    public var source: String { "/fieldgate/\(vendor)/\(tenant)" }

    /// The job ID; CloudEvents omits absent attributes, so no job ID means no `subject`.
    public var subject: String? { job?.id }

    /// Appends the event's JSON (structured mode) with attributes in the contract's order.
    public func write(into output: inout [UInt8]) {
        func key(_ name: StaticString) {
            output.append(UInt8(ascii: "\""))
            output.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            output.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        output.append(contentsOf: #"{"specversion":"1.0","id":"#.utf8)
        JSONEscaping.appendQuoted(id, to: &output)
        output.append(UInt8(ascii: ","))
        key("source")
        JSONEscaping.appendQuoted(source, to: &output)
        output.append(UInt8(ascii: ","))
        key("type")
        JSONEscaping.appendQuoted(type.rawValue, to: &output)
        if let subject {
            output.append(UInt8(ascii: ","))
            key("subject")
            JSONEscaping.appendQuoted(subject, to: &output)
        }
        output.append(UInt8(ascii: ","))
        key("time")
        JSONEscaping.appendQuoted(time.rfc3339(), to: &output)
        output.append(contentsOf: #","datacontenttype":"application/json","data":{"vendor":"#.utf8)
        JSONEscaping.appendQuoted(vendor, to: &output)
        output.append(UInt8(ascii: ","))
        key("tenant")
        JSONEscaping.appendQuoted(tenant, to: &output)
        output.append(UInt8(ascii: ","))
        key("vendorEvent")
        JSONEscaping.appendQuoted(vendorEvent, to: &output)
        output.append(UInt8(ascii: ","))
        key("receivedAt")
        JSONEscaping.appendQuoted(receivedAt.rfc3339(alwaysMilliseconds: true), to: &output)
        output.append(UInt8(ascii: ","))
        key("job")
        if let job { job.json.write(into: &output) } else { output.append(contentsOf: "null".utf8) }
        output.append(UInt8(ascii: ","))
        key("detail")
        detail.write(into: &output)
        output.append(contentsOf: "}}".utf8)
    }

    /// The event's JSON as bytes.
    public var jsonBytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(512)
        write(into: &output)
        return output
    }
}

/// `data.job`: the job an event concerns and what it says about the job's status.
public struct JobState: Sendable, Equatable {
    public var id: String?
    /// `<vendor>:<tenant>:<id>`, unique across vendors and tenants; nil when the job ID is unknown.
    public var key: String?
    public var status: JobStatus?
    public var vendorStatus: VendorStatus?
    public var previousStatus: JobStatus?
    public var previousVendorStatus: VendorStatus?

    public init(vendor: String, tenant: String, adapted: AdaptedJob) {
        id = adapted.id
        key = adapted.id.map { "\(vendor):\(tenant):\($0)" }
        status = adapted.status
        vendorStatus = adapted.vendorStatus
        previousStatus = adapted.previousStatus
        previousVendorStatus = adapted.previousVendorStatus
    }

    public var json: JSONValue {
        .object([
            "id": .string(id),
            "key": .string(key),
            "status": .string(status?.rawValue),
            "vendorStatus": vendorStatus?.json ?? .null,
            "previousStatus": .string(previousStatus?.rawValue),
            "previousVendorStatus": previousVendorStatus?.json ?? .null,
        ])
    }
}
