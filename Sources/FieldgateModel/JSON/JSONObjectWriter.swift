/// Writes an event's `detail` object straight to compact JSON text, in the order members are written.
///
/// Adapters copy a dozen or more vendor fields into `detail` per request. Building a ``JSONObject`` tree first
/// costs a `String` per long value and an array per object, all freed right after serialisation; writing the
/// text directly copies the vendor's bytes once. Members follow ``JSONObject/set(_:text:)``'s rules: a missing,
/// null, empty or all-whitespace value leaves its member out.
///
/// ```swift
/// var detail = JSONObjectWriter()
/// detail.text("orderId", job["orderId"])
/// detail.object("contact", omitIfEmpty: true) { contact in
///     contact.text("name", job["contactName"])
/// }
/// let object = detail.finish()
/// ```
public struct JSONObjectWriter: ~Copyable {
    private var output: [UInt8]
    /// Whether the container being written has a member or element already (so the next needs a comma).
    private var hasMembers = false

    public init(capacity: Int = 512) {
        output = []
        output.reserveCapacity(capacity)
        output.append(UInt8(ascii: "{"))
    }

    /// Closes the object.
    public consuming func finish() -> JSONObject {
        output.append(UInt8(ascii: "}"))
        return JSONObject(rendered: output)
    }

    // MARK: Members

    private mutating func key(_ key: StaticString) {
        if hasMembers { output.append(UInt8(ascii: ",")) }
        hasMembers = true
        output.append(UInt8(ascii: "\""))
        JSONEscaping.appendEscaped(UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount), to: &output)
        output.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    /// A string member, unless `value` is nil.
    public mutating func string(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        JSONEscaping.appendQuoted(value, to: &output)
    }

    /// A vendor value's text as a string member, as ``JSONElement/nonEmptyText`` reads it: strings and numbers
    /// only, and nothing for an empty or all-whitespace string. The text is copied from the request's bytes.
    public mutating func text(_ name: StaticString, _ element: JSONElement?) {
        guard let element, element.hasText else { return }
        key(name)
        let token = element.token
        if token.kind == .number {
            output.append(UInt8(ascii: "\""))
            element.document.bytes.withUnsafeBufferPointer {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: $0[Int(token.start)..<Int(token.end)]))
            }
            output.append(UInt8(ascii: "\""))
        } else {
            element.writeCompact(into: &output)
        }
    }

    /// ``text(_:_:)``, but `null` rather than nothing when there is no text (array entries keep their shape).
    public mutating func textOrNull(_ name: StaticString, _ element: JSONElement?) {
        if let element, element.hasText {
            text(name, element)
        } else {
            key(name)
            output.append(contentsOf: "null".utf8)
        }
    }

    /// A number member written as `text` is (a JSON number's text), unless `text` is nil.
    public mutating func number(_ name: StaticString, _ text: String?) {
        guard let text else { return }
        key(name)
        output.append(contentsOf: text.utf8)
    }

    public mutating func integer(_ name: StaticString, _ value: Int) {
        key(name)
        output.append(contentsOf: String(value).utf8)
    }

    /// A time member in the canonical RFC 3339 UTC form, unless `time` is nil.
    public mutating func timestamp(_ name: StaticString, _ time: UTCTimestamp?) {
        guard let time else { return }
        key(name)
        output.append(UInt8(ascii: "\""))
        time.writeRFC3339(into: &output)
        output.append(UInt8(ascii: "\""))
    }

    /// A vendor value copied as it is (compact, members in the vendor's order, numbers as written), or `null`
    /// when it is missing.
    public mutating func value(_ name: StaticString, _ element: JSONElement?) {
        key(name)
        if let element { element.writeCompact(into: &output) } else { output.append(contentsOf: "null".utf8) }
    }

    /// A nested object. With `omitIfEmpty`, an object that got no members is left out altogether.
    public mutating func object(
        _ name: StaticString,
        omitIfEmpty: Bool = false,
        _ body: (inout JSONObjectWriter) -> Void
    ) {
        let mark = output.count
        let hadMembers = hasMembers
        key(name)
        output.append(UInt8(ascii: "{"))
        hasMembers = false
        body(&self)
        if omitIfEmpty && !hasMembers {
            output.removeSubrange(mark...)
            hasMembers = hadMembers
            return
        }
        output.append(UInt8(ascii: "}"))
        hasMembers = true
    }

    /// An array member whose elements `body` writes with ``element(_:)``.
    public mutating func array(_ name: StaticString, _ body: (inout JSONObjectWriter) -> Void) {
        key(name)
        output.append(UInt8(ascii: "["))
        hasMembers = false
        body(&self)
        output.append(UInt8(ascii: "]"))
        hasMembers = true
    }

    /// One object element of the array being written.
    public mutating func element(_ body: (inout JSONObjectWriter) -> Void) {
        if hasMembers { output.append(UInt8(ascii: ",")) }
        output.append(UInt8(ascii: "{"))
        hasMembers = false
        body(&self)
        output.append(UInt8(ascii: "}"))
        hasMembers = true
    }
}

extension JSONElement {
    /// Appends this value as compact JSON in document order: strings re-escaped minimally, numbers as written.
    public func writeCompact(into output: inout [UInt8]) {
        JSONCanonicalForm.write(document, index, sortsKeys: false, into: &output)
    }
}
