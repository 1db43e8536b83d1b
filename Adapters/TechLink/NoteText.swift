/// TechLink notes are typed in a rich-text editor and arrive as HTML fragments more often than not; subscribers
/// that show them in SMS or plain-text views need the text without markup.
///
/// Both functions make one pass over the note's UTF-8 bytes, whatever the markup: a note is a field of an
/// unauthenticated request (a TechLink tenant without tokens is open to anyone), and the earlier version, which
/// searched for the closing `>` of every `<` from scratch, took 51 s for 40,000 unclosed `<a`.
enum NoteText {
    /// True when the text contains a tag (`<p>`, `</b>`, `<br/>`) or a character entity (`&nbsp;`, `&#8217;`).
    static func looksLikeHTML(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            let count = bytes.count
            var i = 0
            while i + 1 < count {
                let byte = bytes[i]
                let next = bytes[i + 1]
                if byte == UInt8(ascii: "<"), next == UInt8(ascii: "/") || isLetter(next) { return true }
                if byte == UInt8(ascii: "&"), looksLikeEntity(bytes, at: i) { return true }
                i += 1
            }
            return false
        }
    }

    /// Whether an entity starts at `bytes[ampersand]`: a `;` within the ten bytes after it, with only letters,
    /// digits and `#` before it. The bound keeps every `&` a constant amount of work.
    static func looksLikeEntity(_ bytes: UnsafeBufferPointer<UInt8>, at ampersand: Int) -> Bool {
        var j = ampersand + 1
        let end = min(bytes.count, ampersand + 11)
        while j < end {
            let byte = bytes[j]
            if byte == UInt8(ascii: ";") { return j > ampersand + 1 }
            guard isLetter(byte) || byte == UInt8(ascii: "#") || byte &- UInt8(ascii: "0") < 10 else { return false }
            j += 1
        }
        return false
    }

    /// The offset of the first `;` within the nine bytes after `bytes[ampersand]`: where an entity would end.
    static func semicolon(_ bytes: UnsafeBufferPointer<UInt8>, after ampersand: Int) -> Int? {
        let end = min(bytes.count, ampersand + 10)
        var j = ampersand + 1
        while j < end {
            if bytes[j] == UInt8(ascii: ";") { return j }
            j += 1
        }
        return nil
    }

    /// Drops tags (block-level ones become line breaks), decodes common and numeric entities, collapses blanks:
    /// runs of spaces and no-break spaces become one space, empty lines go, lines are trimmed.
    ///
    /// A `<` without a later `>` is text. Where the next `>` is, is remembered, so every `<` before it is
    /// answered without a search, and once there is no `>` left no later `<` searches at all. A line break is
    /// `\n` on its own: `\r\n` stays inside its line, as it did when this worked on `Character`s.
    static func plainText(fromHTML html: String) -> String {
        var html = html
        return html.withUTF8 { bytes in
            let count = bytes.count
            // Tags and entities only shorten the text, and an inserted line break replaces a tag of at least
            // three bytes, so the marked-up text's length bounds the result.
            var output: [UInt8] = []
            output.reserveCapacity(count)
            var nextClose = -1  // the offset of the next `>` at or after i; `count` when there is none
            var i = 0
            var runStart = 0
            while i < count {
                let byte = bytes[i]
                if byte == UInt8(ascii: "<") {
                    if nextClose < i { nextClose = firstIndex(of: UInt8(ascii: ">"), in: bytes, from: i + 1) }
                    if nextClose < count {
                        output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                        if isBlockTag(bytes, from: i + 1, to: nextClose), !output.isEmpty, !endsWithLineBreak(output) {
                            output.append(UInt8(ascii: "\n"))
                        }
                        i = nextClose + 1
                        runStart = i
                        continue
                    }
                } else if byte == UInt8(ascii: "&"), let semicolon = semicolon(bytes, after: i),
                    let scalar = entity(bytes, from: i + 1, to: semicolon)
                {
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                    output.append(contentsOf: UTF8.encode(scalar)!)
                    i = semicolon + 1
                    runStart = i
                    continue
                }
                i += 1
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<count]))
            return String(decoding: collapsingBlanks(output), as: UTF8.self)
        }
    }

    /// Whether the tag text `bytes[start..<end]` (between `<` and `>`) names a block element: its name is the
    /// letters after any `/`, compared case-insensitively.
    static func isBlockTag(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Bool {
        var i = start
        while i < end && bytes[i] == UInt8(ascii: "/") { i += 1 }
        let nameStart = i
        while i < end && i - nameStart < 4 && isLetter(bytes[i]) { i += 1 }
        // A longer name, or one that goes on with a non-ASCII letter, is not one of these.
        if i < end && (isLetter(bytes[i]) || (bytes[i] >= 0x80 && startsWithLetter(bytes, at: i, end: end))) {
            return false
        }
        var name: UInt32 = 0
        for k in nameStart..<i { name = name << 8 | UInt32(bytes[k] | 0x20) }
        switch name {
        case 0x6272, 0x70, 0x6469_76, 0x6C69, 0x7472: return true  // br, p, div, li, tr
        default: return false
        }
    }

    /// Whether the UTF-8 sequence at `i` is a letter (`Character.isLetter`: a general category L*).
    static func startsWithLetter(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Bool {
        var iterator = UnsafeBufferPointer(rebasing: bytes[i..<min(end, i + 4)]).makeIterator()
        var decoder = UTF8()
        guard case .scalarValue(let scalar) = decoder.decode(&iterator) else { return false }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// Whether the text ends with a line break of its own (`\n` not preceded by `\r`, which would make `\r\n`).
    static func endsWithLineBreak(_ output: [UInt8]) -> Bool {
        guard output.last == UInt8(ascii: "\n") else { return false }
        return output.count < 2 || output[output.count - 2] != UInt8(ascii: "\r")
    }

    /// Lines without empty ones, each with its runs of spaces and no-break spaces (U+00A0) collapsed to one space
    /// and none at either end. A line of blanks only is kept, empty.
    static func collapsingBlanks(_ text: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(text.count)
        var emittedLines = 0
        var inLine = false
        var lineHasWord = false
        var pendingSpace = false
        var i = 0
        let count = text.count
        while i < count {
            let byte = text[i]
            if byte == UInt8(ascii: "\n") && (i == 0 || text[i - 1] != UInt8(ascii: "\r")) {
                inLine = false
                i += 1
                continue
            }
            if !inLine {
                if emittedLines > 0 { result.append(UInt8(ascii: "\n")) }
                emittedLines += 1
                inLine = true
                lineHasWord = false
                pendingSpace = false
            }
            if byte == 0x20 || (byte == 0xC2 && i + 1 < count && text[i + 1] == 0xA0) {
                if lineHasWord { pendingSpace = true }
                i += byte == 0x20 ? 1 : 2
                continue
            }
            if pendingSpace {
                result.append(0x20)
                pendingSpace = false
            }
            result.append(byte)
            lineHasWord = true
            i += 1
        }
        return result
    }

    /// The named entities understood, with the character each stands for. Looked up by bytes: an entity costs no
    /// `String` and no hashing, so a note of nothing but entities is read at the speed of any other text.
    static let entities: [(name: [UInt8], scalar: Unicode.Scalar)] = [
        ("amp", "&"), ("lt", "<"), ("gt", ">"), ("quot", "\""), ("apos", "'"), ("nbsp", "\u{00A0}"),
        ("mdash", "\u{2014}"), ("ndash", "\u{2013}"), ("hellip", "\u{2026}"), ("lsquo", "\u{2018}"),
        ("rsquo", "\u{2019}"), ("ldquo", "\u{201C}"), ("rdquo", "\u{201D}"), ("deg", "\u{00B0}"),
        ("copy", "\u{00A9}"), ("reg", "\u{00AE}"), ("trade", "\u{2122}"),
    ].map { (Array($0.0.utf8), $0.1) }

    /// The character the entity named by `bytes[start..<end]` (between `&` and `;`) stands for, or nil when it
    /// is not an entity this understands. Numeric entities read as Swift's `UInt32(_:radix:)` reads text (a sign
    /// is allowed, `-0` is zero), which is what this did when it parsed a `String`.
    static func entity(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Unicode.Scalar? {
        guard start < end else { return nil }
        if bytes[start] == UInt8(ascii: "#") {
            var i = start + 1
            var radix: UInt32 = 10
            if i < end && (bytes[i] | 0x20) == UInt8(ascii: "x") {
                radix = 16
                i += 1
            }
            return parseUInt32(bytes, from: i, to: end, radix: radix).flatMap(Unicode.Scalar.init)
        }
        let length = end - start
        for entity in entities where entity.name.count == length {
            let matches = entity.name.withUnsafeBufferPointer { name in
                (0..<length).allSatisfy { name[$0] == bytes[start + $0] }
            }
            if matches { return entity.scalar }
        }
        return nil
    }

    /// `UInt32(text, radix:)` on bytes: an optional sign, at least one digit, no overflow, and a negative value
    /// only when it is zero.
    static func parseUInt32(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, radix: UInt32) -> UInt32?
    {
        var i = start
        var negative = false
        if i < end && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < end else { return nil }
        var value: UInt32 = 0
        while i < end {
            let byte = bytes[i]
            let digit: UInt32
            if byte &- UInt8(ascii: "0") < 10 {
                digit = UInt32(byte &- UInt8(ascii: "0"))
            } else if radix == 16, (byte | 0x20) &- UInt8(ascii: "a") < 6 {
                digit = UInt32((byte | 0x20) &- UInt8(ascii: "a")) + 10
            } else {
                return nil
            }
            guard digit < radix else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: radix)
            let (sum, carry) = shifted.addingReportingOverflow(digit)
            guard !overflow, !carry else { return nil }
            value = sum
            i += 1
        }
        return negative && value != 0 ? nil : value
    }

    /// The offset of the first `byte` at or after `from`, or `bytes.count`.
    static func firstIndex(of byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
        var i = from
        while i < bytes.count && bytes[i] != byte { i += 1 }
        return i
    }

    /// An ASCII letter: `| 0x20` folds upper case onto lower case, and the wrapping subtraction turns the range
    /// check into one comparison.
    static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) &- UInt8(ascii: "a") < 26
    }
}
