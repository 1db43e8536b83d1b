/// TechLink notes are typed in a rich-text editor and arrive as HTML fragments more often than not; subscribers
/// that show them in SMS or plain-text views need the text without markup.
enum NoteText {
    /// True when the text contains a tag (`<p>`, `</b>`, `<br/>`) or a character entity (`&nbsp;`, `&#8217;`).
    static func looksLikeHTML(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        for (i, byte) in bytes.enumerated() where i + 1 < bytes.count {
            let next = bytes[i + 1]
            if byte == UInt8(ascii: "<"), next == UInt8(ascii: "/") || isLetter(next) { return true }
            if byte == UInt8(ascii: "&"), let end = bytes[(i + 1)...].prefix(10).firstIndex(of: UInt8(ascii: ";")),
                end > i + 1,
                bytes[(i + 1)..<end].allSatisfy({ isLetter($0) || $0 == UInt8(ascii: "#") || $0 &- 48 < 10 })
            {
                return true
            }
        }
        return false
    }

    /// Drops tags (block-level ones become line breaks), decodes common and numeric entities, collapses blanks.
    static func plainText(fromHTML html: String) -> String {
        var output = ""
        var index = html.startIndex
        while index < html.endIndex {
            let character = html[index]
            if character == "<", let close = html[index...].firstIndex(of: ">") {
                let tag = html[html.index(after: index)..<close].lowercased()
                let name = tag.drop { $0 == "/" }.prefix { $0.isLetter }
                if ["br", "p", "div", "li", "tr"].contains(String(name)), !output.isEmpty, output.last != "\n" {
                    output.append("\n")
                }
                index = html.index(after: close)
                continue
            }
            if character == "&", let semicolon = html[index...].prefix(10).firstIndex(of: ";") {
                let entity = String(html[html.index(after: index)..<semicolon])
                if let decoded = decode(entity: entity) {
                    output.append(decoded)
                    index = html.index(after: semicolon)
                    continue
                }
            }
            output.append(character)
            index = html.index(after: index)
        }
        return output.split(separator: "\n", omittingEmptySubsequences: true)
            .map { $0.split(whereSeparator: { $0 == " " || $0 == "\u{00A0}" }).joined(separator: " ") }
            .joined(separator: "\n")
    }

    static let entities: [String: Character] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}", "mdash": "\u{2014}",
        "ndash": "\u{2013}", "hellip": "\u{2026}", "lsquo": "\u{2018}", "rsquo": "\u{2019}", "ldquo": "\u{201C}",
        "rdquo": "\u{201D}", "deg": "\u{00B0}", "copy": "\u{00A9}", "reg": "\u{00AE}", "trade": "\u{2122}",
    ]

    static func decode(entity: String) -> Character? {
        if entity.hasPrefix("#") {
            let digits = entity.dropFirst()
            let value =
                digits.first == "x" || digits.first == "X" ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
            return value.flatMap(Unicode.Scalar.init).map(Character.init)
        }
        return entities[entity]
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) &- UInt8(ascii: "a") < 26
    }
}
