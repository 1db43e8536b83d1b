import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import HellotracksAdapter
import Testing
import TrackTikAdapter

@testable import TechLinkAdapter

/// CONTRACT §1 "Limits, timeouts and cost": every pathological shape gets the outcome the contract gives it (the
/// Hostile benchmark suite measures what it costs).
@Suite("Hostile request shapes")
struct HostileShapeTests {
    static let shapes = HostileShapes.all(size: 64 * 1024)

    @Test(arguments: Self.shapes.map(\.name))
    func eachShapeAndItsPlainTwinGetTheirOutcome(name: String) async throws {
        let shape = try #require(Self.shapes.first { $0.name == name })
        let harness = try PipelineHarness(
            configurationYAML: HostileShapes.configurationYAML,
            adapters: [TrackTikAdapter(), HellotracksAdapter(), TechLinkAdapter()]
        )
        #expect(shape.plain.count == shape.body.count, "the plain twin is as long as the shape")
        for body in [shape.body, shape.plain] {
            let outcome = try await harness.pipeline.process(
                InboundRequest(method: "POST", path: shape.path, headers: shape.headers, body: body)
            )
            #expect(outcome.httpStatus == shape.expectedStatus, "\(outcome)")
        }
    }

    /// The shapes that used to cost the most still say what they should.
    @Test func theUnclosedTagsNoteIsHTMLWhoseTextIsTheTagsThemselves() async throws {
        let shape = try #require(Self.shapes.first { $0.name == "techlink-note-unclosed-tags" })
        let harness = try PipelineHarness(
            configurationYAML: HostileShapes.configurationYAML,
            adapters: [TrackTikAdapter(), HellotracksAdapter(), TechLinkAdapter()]
        )
        let outcome = try await harness.pipeline.process(
            InboundRequest(method: "POST", path: shape.path, headers: shape.headers, body: shape.body)
        )
        guard case .accepted(let event) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        let note = try #require(event.detail["note"]?.objectValue)
        #expect(note["html"] == .bool(true))
        #expect(note["plainText"]?.stringValue?.hasPrefix("<a<a<a") == true)
    }
}

/// The note renderer works on bytes in one pass; it must say exactly what the `Character`-based version said for
/// every note that version could render (combining marks right after `<`, `>` or a blank aside).
@Suite("Note text")
struct NoteTextTests {
    static let fragments = [
        "<p>", "</p>", "<br/>", "<BR>", "<br >", "<a", ">", "<a href='x'>", "</a>", "&amp;", "&#8217;", "&#x41;",
        "&#+65;", "&bogus;", "&", ";", "&lt;b&gt;", " ", "\u{00A0}", "&nbsp;", "\n", "\r\n", "\r", "é", "word", "Ünï",
        "<div class='x'>", "<li>", "<tr", "<brx>", "< p>", "<\u{00E9}>", "<pé>", "<Div>", "</LI>", "  ", "\t",
        "&#1234567;",
        "&#xD800;", "&abcdefghi;", "&;", "<>", "</>", "<//p>", "😀", "&#-0;", "&#x-0;", "&#x+41;", "&#;", "&#x;",
        "&#X4a;", "&#4294967296;", "&#0065;", "&AMP;", "&am;", "&#1114111;", "&#1114112;",
    ]

    @Test func rendersEveryMixOfMarkupAsTheCharacterVersionDid() {
        var state: UInt64 = 5
        for _ in 0..<3_000 {
            var text = ""
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            for _ in 0..<Int((state >> 33) % 24) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text += Self.fragments[Int((state >> 33) % UInt64(Self.fragments.count))]
            }
            #expect(NoteText.looksLikeHTML(text) == LegacyNoteText.looksLikeHTML(text), "\(text.debugDescription)")
            #expect(
                NoteText.plainText(fromHTML: text) == LegacyNoteText.plainText(fromHTML: text),
                "\(text.debugDescription)"
            )
        }
    }

    @Test func unclosedTagsAndEntitiesAreText() {
        #expect(NoteText.plainText(fromHTML: "<a<a<b>x") == "x")
        #expect(NoteText.plainText(fromHTML: "a < b & c") == "a < b & c")
        #expect(NoteText.plainText(fromHTML: "<p>one</p><p>two</p>") == "one\ntwo")
        #expect(NoteText.plainText(fromHTML: "Tom&nbsp;&amp;&nbsp;Jerry&#8217;s") == "Tom & Jerry\u{2019}s")
    }
}

/// The renderer as it was (quadratic on unclosed tags): the reference the byte version is held to.
enum LegacyNoteText {
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
