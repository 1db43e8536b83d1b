package import FieldgateModel

/// The JSON text every store keeps for what has no column of its own: a request's headers as `[name, value]`
/// pairs (order and repeated fields survive, and a store copy moves them byte for byte), lists of strings.
package enum StoredJSON {
    package static func encode(_ headers: RequestHeaders) -> String {
        // Written directly rather than through a JSONValue tree: every stored event and request has headers.
        var output: [UInt8] = []
        output.reserveCapacity(headers.wireSize + 8 * headers.fields.count + 2)
        output.append(UInt8(ascii: "["))
        for (position, field) in headers.enumerated() {
            if position > 0 { output.append(UInt8(ascii: ",")) }
            output.append(UInt8(ascii: "["))
            JSONEscaping.appendQuoted(field.name, to: &output)
            output.append(UInt8(ascii: ","))
            JSONEscaping.appendQuoted(field.value, to: &output)
            output.append(UInt8(ascii: "]"))
        }
        output.append(UInt8(ascii: "]"))
        return String(decoding: output, as: UTF8.self)
    }

    package static func decodeHeaders(_ text: String) throws -> RequestHeaders {
        var headers = RequestHeaders()
        for pair in try JSONValue(parsing: Array(text.utf8)).arrayValue ?? [] {
            guard let values = pair.arrayValue, values.count == 2, let name = values[0].stringValue,
                let value = values[1].stringValue
            else { throw CanonicalEventDecodingError("stored headers are not [name, value] pairs") }
            headers.append(name: name, value: value)
        }
        return headers
    }

    /// A list of strings as a JSON array (subscriber filters in SQLite).
    package static func encode(_ strings: [String]) -> String {
        JSONValue.array(strings.map { .string($0) }).jsonText
    }

    package static func decodeStrings(_ text: String) throws -> [String] {
        try (JSONValue(parsing: Array(text.utf8)).arrayValue ?? []).map { value in
            guard let text = value.stringValue else { throw CanonicalEventDecodingError("stored list is not strings") }
            return text
        }
    }
}
