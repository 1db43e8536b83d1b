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
        output.append(contentsOf: #""/fieldgate/"#.utf8)
        Self.appendEscaped(vendor, to: &output)
        output.append(UInt8(ascii: "/"))
        Self.appendEscaped(tenant, to: &output)
        output.append(UInt8(ascii: "\""))
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
        output.append(UInt8(ascii: "\""))
        time.writeRFC3339(into: &output)
        output.append(UInt8(ascii: "\""))
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
        output.append(UInt8(ascii: "\""))
        receivedAt.writeRFC3339(into: &output, alwaysMilliseconds: true)
        output.append(UInt8(ascii: "\""))
        output.append(UInt8(ascii: ","))
        key("job")
        if let job { job.write(into: &output) } else { output.append(contentsOf: "null".utf8) }
        output.append(UInt8(ascii: ","))
        key("detail")
        detail.write(into: &output)
        output.append(contentsOf: "}}".utf8)
    }

    private static func appendEscaped(_ text: String, to output: inout [UInt8]) {
        var text = text
        text.withUTF8 { JSONEscaping.appendEscaped($0, to: &output) }
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

    /// The job facts an adapter extracted; `key` is left for the gateway, which knows the vendor and tenant.
    public init(
        id: String?,
        status: JobStatus? = nil,
        vendorStatus: VendorStatus? = nil,
        previousStatus: JobStatus? = nil,
        previousVendorStatus: VendorStatus? = nil
    ) {
        self.init(
            id: id,
            key: nil,
            status: status,
            vendorStatus: vendorStatus,
            previousStatus: previousStatus,
            previousVendorStatus: previousVendorStatus
        )
    }

    /// Appends `data.job`'s JSON: all six keys, absent values as null (the schema requires each key).
    public func write(into output: inout [UInt8]) {
        func string(_ text: String?) {
            if let text { JSONEscaping.appendQuoted(text, to: &output) } else { output.append(contentsOf: "null".utf8) }
        }
        func vendorStatus(_ status: VendorStatus?) {
            guard let status else { return output.append(contentsOf: "null".utf8) }
            output.append(contentsOf: #"{"code":"#.utf8)
            string(status.code)
            output.append(contentsOf: #","name":"#.utf8)
            string(status.name)
            output.append(UInt8(ascii: "}"))
        }
        output.append(contentsOf: #"{"id":"#.utf8)
        string(id)
        output.append(contentsOf: #","key":"#.utf8)
        string(key)
        output.append(contentsOf: #","status":"#.utf8)
        string(status?.rawValue)
        output.append(contentsOf: #","vendorStatus":"#.utf8)
        vendorStatus(self.vendorStatus)
        output.append(contentsOf: #","previousStatus":"#.utf8)
        string(previousStatus?.rawValue)
        output.append(contentsOf: #","previousVendorStatus":"#.utf8)
        vendorStatus(previousVendorStatus)
        output.append(UInt8(ascii: "}"))
    }
}

extension JobState {
    public init(
        id: String?,
        key: String?,
        status: JobStatus?,
        vendorStatus: VendorStatus?,
        previousStatus: JobStatus?,
        previousVendorStatus: VendorStatus?
    ) {
        self.id = id
        self.key = key
        self.status = status
        self.vendorStatus = vendorStatus
        self.previousStatus = previousStatus
        self.previousVendorStatus = previousVendorStatus
    }
}

// MARK: Reading an event back

/// An event's JSON that is not what ``CanonicalEvent/write(into:)`` produces.
public struct CanonicalEventDecodingError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension CanonicalEvent {
    /// Reads back what ``write(into:)`` wrote: stores keep the event's JSON and rebuild the value from it.
    public init(decoding bytes: [UInt8]) throws {
        let root = try JSONValue(parsing: bytes)
        func text(_ value: JSONValue?, _ name: String) throws -> String {
            guard let text = value?.stringValue else { throw CanonicalEventDecodingError("\(name) is not a string") }
            return text
        }
        func timestamp(_ value: JSONValue?, _ name: String) throws -> UTCTimestamp {
            guard let instant = UTCTimestamp(rfc3339: try text(value, name)) else {
                throw CanonicalEventDecodingError("\(name) is not an RFC 3339 time")
            }
            return instant
        }
        func vendorStatus(_ value: JSONValue?) -> VendorStatus? {
            guard let value, !value.isNull else { return nil }
            return VendorStatus(code: value["code"]?.stringValue, name: value["name"]?.stringValue)
        }
        guard let data = root["data"]?.objectValue else { throw CanonicalEventDecodingError("data is not an object") }
        guard let type = EventType(rawValue: try text(root["type"], "type")) else {
            throw CanonicalEventDecodingError("unknown type")
        }
        var job: JobState?
        if let value = data["job"], let object = value.objectValue {
            job = JobState(
                id: object["id"]?.stringValue,
                key: object["key"]?.stringValue,
                status: object["status"]?.stringValue.flatMap(JobStatus.init(rawValue:)),
                vendorStatus: vendorStatus(object["vendorStatus"]),
                previousStatus: object["previousStatus"]?.stringValue.flatMap(JobStatus.init(rawValue:)),
                previousVendorStatus: vendorStatus(object["previousVendorStatus"])
            )
        }
        self.init(
            id: try text(root["id"], "id"),
            type: type,
            time: try timestamp(root["time"], "time"),
            vendor: try text(data["vendor"], "data.vendor"),
            tenant: try text(data["tenant"], "data.tenant"),
            vendorEvent: try text(data["vendorEvent"], "data.vendorEvent"),
            receivedAt: try timestamp(data["receivedAt"], "data.receivedAt"),
            job: job,
            detail: data["detail"]?.objectValue ?? JSONObject()
        )
    }
}
