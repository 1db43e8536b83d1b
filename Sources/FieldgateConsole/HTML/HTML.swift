/// HTML written as bytes, where every string that is not a literal in this module is text.
///
/// Vendor data is attacker-controlled: a TechLink note or a site name may hold `<script>` or
/// `<img src=x onerror=…>`. Markup (tags, attribute names, fixed fragments) can only be a `StaticString` — a
/// literal in the source — while every dynamic value goes through ``text(_:)`` or an attribute value, both
/// escaped here and nowhere else. There is no way to append an unescaped runtime string.
struct HTML: Sendable {
    private(set) var bytes: [UInt8] = []

    init() {
        bytes.reserveCapacity(16 * 1024)
    }

    /// A fixed fragment of markup from the source.
    mutating func raw(_ markup: StaticString) {
        markup.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Text content: `&`, `<`, `>`, `"` and `'` become character references; control characters other than tab,
    /// line feed and carriage return become U+FFFD.
    mutating func text(_ value: some StringProtocol) {
        for byte in value.utf8 { Self.appendEscaped(byte, to: &bytes) }
    }

    mutating func text(_ value: Int) { text(String(value)) }

    /// `<tag a="v"…>`; attributes whose value is nil are left out.
    mutating func open(_ tag: StaticString, _ attributes: [Attribute] = []) {
        bytes.append(UInt8(ascii: "<"))
        raw(tag)
        for attribute in attributes {
            guard let value = attribute.value else { continue }
            bytes.append(UInt8(ascii: " "))
            raw(attribute.name)
            bytes.append(contentsOf: #"=""#.utf8)
            text(value)
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: ">"))
    }

    mutating func close(_ tag: StaticString) {
        bytes.append(contentsOf: "</".utf8)
        raw(tag)
        bytes.append(UInt8(ascii: ">"))
    }

    /// `<tag …>text</tag>`.
    mutating func element(_ tag: StaticString, _ attributes: [Attribute] = [], text value: some StringProtocol) {
        open(tag, attributes)
        text(value)
        close(tag)
    }

    /// `<tag …>…</tag>` with content written by `content`.
    mutating func element(_ tag: StaticString, _ attributes: [Attribute] = [], content: (inout HTML) -> Void) {
        open(tag, attributes)
        content(&self)
        close(tag)
    }

    /// `<a href="…">text</a>`.
    mutating func link(_ href: ConsoleLink, _ label: some StringProtocol, _ attributes: [Attribute] = []) {
        element("a", [.href(href)] + attributes, text: label)
    }

    static func appendEscaped(_ byte: UInt8, to output: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "&"): output.append(contentsOf: "&amp;".utf8)
        case UInt8(ascii: "<"): output.append(contentsOf: "&lt;".utf8)
        case UInt8(ascii: ">"): output.append(contentsOf: "&gt;".utf8)
        case UInt8(ascii: "\""): output.append(contentsOf: "&quot;".utf8)
        case UInt8(ascii: "'"): output.append(contentsOf: "&#39;".utf8)
        case 0x09, 0x0A, 0x0D: output.append(byte)
        case 0x00..<0x20, 0x7F: output.append(contentsOf: [0xEF, 0xBF, 0xBD])
        default: output.append(byte)
        }
    }

    /// A string escaped for HTML text: for tests.
    static func escaped(_ value: String) -> String {
        var output: [UInt8] = []
        for byte in value.utf8 { appendEscaped(byte, to: &output) }
        return String(decoding: output, as: UTF8.self)
    }
}

/// One attribute: a literal name and a value that is escaped when written.
struct Attribute: Sendable {
    let name: StaticString
    let value: String?

    init(_ name: StaticString, _ value: String?) {
        self.name = name
        self.value = value
    }

    static func `class`(_ value: String?) -> Attribute { Attribute("class", value) }
    static func id(_ value: String) -> Attribute { Attribute("id", value) }
    static func href(_ link: ConsoleLink) -> Attribute { Attribute("href", link.text) }
    /// A boolean attribute (`checked`, `selected`, `required`) when `on`.
    static func flag(_ name: StaticString, _ on: Bool) -> Attribute { Attribute(name, on ? name.description : nil) }
}

/// A link inside the console: `/console/<segments>?<query>`, every segment and value percent-encoded, so that no
/// vendor ID can add a path segment, a query or a scheme.
struct ConsoleLink: Sendable, Equatable {
    let text: String

    init(_ segments: String..., query: [(String, String?)] = []) {
        self.init(segments: segments, query: query)
    }

    init(segments: [String], query: [(String, String?)] = []) {
        var text = "/console"
        for segment in segments { text += "/" + Self.percentEncoded(segment) }
        let items = query.compactMap { name, value in value.map { (name, $0) } }.filter { !$0.1.isEmpty }
        if !items.isEmpty {
            text +=
                "?" + items.map { Self.percentEncoded($0.0) + "=" + Self.percentEncoded($0.1) }.joined(separator: "&")
        }
        self.text = text
    }

    /// Everything but RFC 3986's unreserved characters is percent-encoded.
    static func percentEncoded(_ value: String) -> String {
        var output = ""
        output.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                output += "%"
                output.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                output.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0F)]))
            }
        }
        return output
    }
}
