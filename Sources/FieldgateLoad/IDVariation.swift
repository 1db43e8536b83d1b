package import FieldgateCore
import FieldgateModel

/// Rewrites the vendor IDs of a corpus request for one repetition of a replay, so that a long run is not all
/// duplicates: the same shapes, new jobs.
///
/// JSON bodies: string values of ID keys get `-r<n>`, numeric ones are prefixed with `<n>0` (they stay numbers).
/// Forms: the `id` parameter, and the IDs inside `data`. Repetition 0 leaves the request as it is.
package enum IDVariation {
    static let idKeys: Set<String> = ["id", "workorder_id", "dispatchTask", "uid", "jobId", "job_id"]

    /// `id`, `uid`, `dispatchTask` and anything named `…_id` or `…Id`, except status identifiers (rewriting those
    /// would change what the event says, not which job it is about).
    static func isIDKey(_ key: String) -> Bool {
        guard !key.lowercased().contains("status") else { return false }
        return idKeys.contains(key) || key.hasSuffix("_id") || key.hasSuffix("Id")
    }

    package static func vary(_ request: CorpusRequest, repetition: Int) -> CorpusRequest {
        guard repetition > 0, request.oversizeBytes == nil else { return request }
        var varied = request
        let contentType = request.headers["Content-Type"] ?? ""
        if contentType.hasPrefix("application/x-www-form-urlencoded") {
            varied.body = varyForm(request.body, repetition: repetition)
        } else if let value = try? JSONValue(parsing: request.body) {
            var output: [UInt8] = []
            vary(value, repetition: repetition, key: nil).write(into: &output)
            varied.body = output
        }
        return varied
    }

    static func vary(_ value: JSONValue, repetition: Int, key: String?) -> JSONValue {
        switch value {
        case .object(let object):
            return .object(
                JSONObject(object.members.map { ($0.key, vary($0.value, repetition: repetition, key: $0.key)) })
            )
        case .array(let values):
            return .array(values.map { vary($0, repetition: repetition, key: key) })
        case .string(let text) where key.map(isIDKey) == true && !text.isEmpty:
            return .string("\(text)-r\(repetition)")
        case .number(let text) where key.map(isIDKey) == true && text.allSatisfy(\.isNumber):
            return .number("\(repetition)0\(text)")
        default:
            return value
        }
    }

    /// `id=…` gets `-r<n>`; `data=…` has its IDs varied like a JSON body. Other parameters stay byte for byte.
    static func varyForm(_ body: [UInt8], repetition: Int) -> [UInt8] {
        let text = String(decoding: body, as: UTF8.self)
        let parameters = text.split(separator: "&", omittingEmptySubsequences: false).map { parameter -> String in
            guard let equals = parameter.firstIndex(of: "=") else { return String(parameter) }
            let name = parameter[..<equals]
            let value = String(parameter[parameter.index(after: equals)...])
            switch name {
            case "id": return "id=" + value + "-r\(repetition)"
            case "data":
                guard let decoded = FormText.decode(value),
                    let json = try? JSONValue(parsing: Array(decoded.utf8))
                else { return String(parameter) }
                return "data=" + FormText.encode(vary(json, repetition: repetition, key: nil).jsonText)
            default: return String(parameter)
            }
        }
        return Array(parameters.joined(separator: "&").utf8)
    }
}

/// `application/x-www-form-urlencoded` values: `+` is a space, `%XX` a byte.
enum FormText {
    static func decode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func encode(_ text: String) -> String {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        var output = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) {
                output.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                output +=
                    "%" + String(byte >> 4, radix: 16, uppercase: true)
                    + String(byte & 0x0F, radix: 16, uppercase: true)
            }
        }
        return output
    }
}
