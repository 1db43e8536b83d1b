package import FieldgateModel

import struct Foundation.Data

/// One line of a corpus file (CONTRACT §6): an HTTP request with a note that states its expected outcome.
package struct CorpusRequest: Sendable {
    package var vendor: String?
    package var tenant: String?
    package var method: String
    package var path: String
    package var headers: RequestHeaders
    package var body: [UInt8]
    package var note: String?
    /// Set when the line used `<<OVERSIZE bytes=N>>`: the body is N filler bytes.
    package var oversizeBytes: Int?

    /// The largest oversize marker expanded into real bytes; larger ones would only exhaust memory.
    package static let maximumExpandedBytes = 256 * 1024 * 1024

    /// Parses one NDJSON line. `headers` is an object, or an array of `[name, value]` pairs for repeated fields.
    package init(line: String) throws(CorpusError) {
        let root: JSONElement
        do {
            root = try JSONDocument(parsing: Array(line.utf8)).root
        } catch {
            throw CorpusError("not JSON: \(error)")
        }
        guard root.isObject else { throw CorpusError("a corpus line must be a JSON object") }
        guard let method = root["method"]?.string, !method.isEmpty else { throw CorpusError("missing 'method'") }
        guard let path = root["path"]?.string, !path.isEmpty else { throw CorpusError("missing 'path'") }
        self.method = method
        self.path = path
        vendor = root["vendor"]?.string
        tenant = root["tenant"]?.string
        note = root["note"]?.string
        headers = RequestHeaders()
        if let fields = root["headers"] {
            if fields.isObject {
                for (name, value) in fields.members {
                    guard let text = value.string else { throw CorpusError("header '\(name)' must be a string") }
                    headers.append(name: name, value: text)
                }
            } else if fields.isArray {
                for pair in fields.elements {
                    let parts = pair.elements
                    guard parts.count == 2, let name = parts[0].string, let value = parts[1].string else {
                        throw CorpusError("headers pairs must be [name, value] strings")
                    }
                    headers.append(name: name, value: value)
                }
            } else if !fields.isNull {
                throw CorpusError("'headers' must be an object or an array of pairs")
            }
        }
        if let encoded = root["bodyBase64"]?.string {
            guard let data = Data(base64Encoded: encoded) else { throw CorpusError("'bodyBase64' is not base64") }
            body = Array(data)
        } else if let text = root["body"]?.string {
            if let size = Self.oversizeMarker(text) {
                guard size <= Self.maximumExpandedBytes else {
                    throw CorpusError("oversize marker of \(size) bytes exceeds \(Self.maximumExpandedBytes)")
                }
                oversizeBytes = size
                body = [UInt8](repeating: UInt8(ascii: "x"), count: size)
            } else {
                body = Array(text.utf8)
            }
        } else {
            body = []
        }
    }

    /// `<<OVERSIZE bytes=N>>` → N.
    static func oversizeMarker(_ text: String) -> Int? {
        guard text.hasPrefix("<<OVERSIZE bytes="), text.hasSuffix(">>") else { return nil }
        return Int(text.dropFirst("<<OVERSIZE bytes=".count).dropLast(2))
    }

    package var inboundRequest: InboundRequest {
        InboundRequest(method: method, path: path, headers: headers, body: body)
    }
}

/// A corpus line that is not a request.
package struct CorpusError: Error, Sendable, CustomStringConvertible {
    package var reason: String
    package init(_ reason: String) { self.reason = reason }
    package var description: String { reason }
}

extension CorpusRequest {
    /// The request as one corpus line (CONTRACT §6): `body` when the bytes are UTF-8, `bodyBase64` otherwise,
    /// the oversize marker for an expanded one, headers as an object (or `[name, value]` pairs when repeated).
    package var jsonLine: String {
        var object = JSONObject()
        object.set("vendor", vendor.map { .string($0) })
        object.set("tenant", tenant.map { .string($0) })
        object.set("method", .string(method))
        object.set("path", .string(path))
        let names = headers.map { $0.name.lowercased() }
        if Set(names).count == names.count {
            object.set("headers", .object(JSONObject(headers.map { ($0.name, .string($0.value)) })))
        } else {
            object.set("headers", .array(headers.map { .array([.string($0.name), .string($0.value)]) }))
        }
        if let oversizeBytes {
            object.set("body", .string("<<OVERSIZE bytes=\(oversizeBytes)>>"))
        } else if let text = String(validating: body, as: UTF8.self) {
            object.set("body", .string(text))
        } else {
            object.set("bodyBase64", .string(Data(body).base64EncodedString()))
        }
        object.set("note", note.map { .string($0) })
        return JSONValue.object(object).jsonText
    }
}
