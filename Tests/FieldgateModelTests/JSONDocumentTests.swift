import FieldgateModel
import Foundation
import Testing

@Suite("Strict JSON parsing")
struct JSONDocumentTests {
    func parse(_ text: String) throws(JSONSyntaxError) -> JSONDocument {
        try JSONDocument(parsing: Array(text.utf8))
    }

    func reason(_ bytes: [UInt8]) -> JSONSyntaxError.Reason? {
        do {
            _ = try JSONDocument(parsing: bytes)
            return nil
        } catch {
            return error.reason
        }
    }

    func reason(_ text: String) -> JSONSyntaxError.Reason? { reason(Array(text.utf8)) }

    @Test func readsNestedValues() throws {
        let root = try parse(#" {"a": {"b": [1, "two", true, null, -0.5e+3]}, "c": "\u00e9\/x"} "#).root
        #expect(root.isObject)
        let array = try #require(root["a"]?["b"])
        #expect(array.count == 5)
        #expect(array.elements.map(\.kind) == [.number, .string, .true, .null, .number])
        #expect(array.elements[4].numberText == "-0.5e+3")
        #expect(array.elements[1].string == "two")
        #expect(root["c"]?.string == "é/x")
        #expect(root["missing"] == nil)
    }

    @Test func keepsNumbersAsWritten() throws {
        let root = try parse(#"{"id": 12345678901234567890123, "f": 1.10, "e": 1E5}"#).root
        #expect(root["id"]?.numberText == "12345678901234567890123")
        #expect(root["f"]?.numberText == "1.10")
        #expect(root["e"]?.numberText == "1E5")
        #expect(root["e"]?.int64 == 100_000)
    }

    @Test(arguments: [
        ("[1,2,]", JSONSyntaxError.Reason.trailingComma),
        (#"{"a":1,}"#, .trailingComma),
        ("// c\n{}", .unexpectedByte(UInt8(ascii: "/"))),
        (#"{"a":1 /* c */}"#, .unexpectedByte(UInt8(ascii: "/"))),
        (#"{"a":NaN}"#, .unexpectedByte(UInt8(ascii: "N"))),
        (#"{"a":Infinity}"#, .unexpectedByte(UInt8(ascii: "I"))),
        (#"{"a":-Infinity}"#, .invalidNumber),
        (#"{"a":"\ud800"}"#, .loneSurrogate),
        (#"{"a":"\udc00x"}"#, .loneSurrogate),
        (#"{"a":"\ud800\u0041"}"#, .loneSurrogate),
        (#"{"a":1} x"#, .trailingBytes),
        (#"{"a":1}{"b":2}"#, .trailingBytes),
        (#"{"a":1,"a":2}"#, .duplicateKey("a")),
        (#"{"a":1,"\u0061":2}"#, .duplicateKey("a")),
        (#"{"a":01}"#, .unexpectedByte(UInt8(ascii: "1"))),
        (#"{"a":1.}"#, .invalidNumber),
        (#"{"a":.5}"#, .unexpectedByte(UInt8(ascii: "."))),
        (#"{"a":+1}"#, .unexpectedByte(UInt8(ascii: "+"))),
        (#"{"a":"x\qy"}"#, .invalidEscape),
        ("{\"a\":\"tab\there\"}", .controlCharacterInString),
        (#"{"a":tru}"#, .unexpectedByte(UInt8(ascii: "}"))),
        (#"{"a" 1}"#, .unexpectedByte(UInt8(ascii: "1"))),
        (#"{'a':1}"#, .unexpectedByte(UInt8(ascii: "'"))),
        (#"{"a":"unterminated"#, .unexpectedEnd),
        ("", .empty),
        ("   ", .empty),
    ])
    func refusesWhatRFC8259Refuses(text: String, expected: JSONSyntaxError.Reason) {
        #expect(reason(text) == expected, "\(text)")
    }

    @Test func refusesByteOrderMark() {
        #expect(reason([0xEF, 0xBB, 0xBF] + Array("{}".utf8)) == .byteOrderMark)
    }

    @Test func refusesInvalidUTF8WithOffset() throws {
        let bytes = Array(#"{"name":"C"#.utf8) + [0xF4] + Array(#"t"}"#.utf8)
        do {
            _ = try JSONDocument(parsing: bytes)
            Issue.record("accepted invalid UTF-8")
        } catch {
            #expect(error.reason == .invalidUTF8)
            #expect(error.offset == 10)
        }
    }

    @Test func limitsNestingTo64() {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(reason(ok) == nil)
        #expect(reason(deep) == .tooDeep)
        let objects = String(repeating: #"{"a":"#, count: 65) + "1" + String(repeating: "}", count: 65)
        #expect(reason(objects) == .tooDeep)
    }

    @Test func acceptsSurrogatePairsAndAnyScalar() throws {
        let root = try parse(#"{"e":"\ud83d\ude00","t":"\t\u0001"}"#).root
        #expect(root["e"]?.string == "😀")
        #expect(root["t"]?.string == "\t\u{01}")
    }

    @Test func manyKeysStillDetectDuplicates() {
        var members = (0..<40).map { #""k\#($0)":\#($0)"# }
        members.append(#""k7":0"#)
        #expect(reason("{" + members.joined(separator: ",") + "}") == .duplicateKey("k7"))
        members.removeLast()
        #expect(reason("{" + members.joined(separator: ",") + "}") == nil)
        // Wide objects go through the seeded hash table like any other above eight members.
        var wide = (0..<300).map { #""key\#($0)":\#($0)"# }
        #expect(reason("{" + wide.joined(separator: ",") + "}") == nil)
        wide.append(#""key299":0"#)
        #expect(reason("{" + wide.joined(separator: ",") + "}") == .duplicateKey("key299"))
    }

    /// Keys that share their first eight bytes are told apart by the rest, and a repeat is still found.
    @Test func duplicateKeysSharingLongPrefixes() {
        var members = (0..<30).map { #""timestamp\#($0 % 3)_\#($0)":\#($0)"# } + [#""timestamp":0"#, #""timestam":0"#]
        #expect(reason("{" + members.joined(separator: ",") + "}") == nil)
        members.append(#""timestamp1_13":0"#)
        #expect(reason("{" + members.joined(separator: ",") + "}") == .duplicateKey("timestamp1_13"))
    }

    /// Strings are scanned eight bytes at a time: a quote, backslash or control byte must be found at every
    /// offset of a word, after multi-byte UTF-8 too.
    @Test func stringScanningFindsEveryTerminatorPosition() throws {
        for prefixLength in 0..<20 {
            let prefix = String(repeating: "é", count: prefixLength / 3) + String(repeating: "a", count: prefixLength)
            let plain = try parse("[\"" + prefix + "\",1]")
            #expect(plain.root.firstElement?.string == prefix)
            let escaped = try parse("[\"" + prefix + #"\n"# + prefix + "\"]")
            #expect(escaped.root.firstElement?.string == prefix + "\n" + prefix)
            #expect(reason(Array(("[\"" + prefix).utf8) + [0x09] + Array("\"]".utf8)) == .controlCharacterInString)
            #expect(reason(Array(("[\"" + prefix).utf8)) == .unexpectedEnd)
        }
    }

    @Test func errorDescriptionsNameTheOffset() {
        do {
            _ = try parse(#"{"a":1,}"#)
        } catch {
            #expect(error.description == "trailing comma at byte offset 7")
        }
    }
}

@Suite("Canonical JSON")
struct JSONCanonicalFormTests {
    func canonical(_ text: String) throws -> String {
        String(decoding: try JSONDocument(parsing: Array(text.utf8)).root.canonicalBytes, as: UTF8.self)
    }

    @Test func sortsKeysAndDropsWhitespace() throws {
        #expect(
            try canonical("{ \"b\" : 1,\r\n \"a\" : [ 2 , { \"d\":null, \"c\":true } ] }")
                == #"{"a":[2,{"c":true,"d":null}],"b":1}"#
        )
    }

    @Test func formattingDifferencesDisappear() throws {
        let php = #"{"url":"https:\/\/x.test\/a","name":"Caf\u00e9 \u201cB\u201d","n":70}"#
        let raw = "{\"n\":70,\"name\":\"Café “B”\",\"url\":\"https://x.test/a\"}"
        #expect(try canonical(php) == canonical(raw))
        #expect(try canonical(php) == raw)
    }

    @Test func valueDifferencesRemain() throws {
        #expect(try canonical(#"{"code":70}"#) != canonical(#"{"code":"70"}"#))
        #expect(try canonical(#"{"code":70}"#) != canonical(#"{"code":70.0}"#))
    }

    @Test func escapingCopiesRunsAndEscapesEveryControlCharacter() {
        var output: [UInt8] = []
        JSONEscaping.appendQuoted("plain \u{00}mid\u{1F}\"q\"\\ \n\r\t\u{08}\u{0C}é/end", to: &output)
        #expect(
            String(decoding: output, as: UTF8.self)
                == #""plain \u0000mid\u001f\"q\"\\ \n\r\t\b\fé/end""#
        )
        var fromSequence: [UInt8] = []
        JSONEscaping.appendEscaped(AnySequence(Array("a\"b".utf8)), to: &fromSequence)
        #expect(fromSequence == Array(#"a\"b"#.utf8))
    }

    @Test func escapesOnlyWhatJSONRequires() throws {
        #expect(try canonical(#"{"s":"a\"b\\c\nd\u0007\u00e9\/"}"#) == #"{"s":"a\"b\\c\nd\u0007é/"}"#)
    }

    /// Strings are decoded, and the canonical writer re-escapes, in one pass each. Both must agree with
    /// Foundation's decoder (escaped again by ``JSONEscaping``) for every kind of escape in any position.
    @Test func decodingAndReescapingMatchFoundation() throws {
        let pieces = [
            "a", "é", "😀", #"\""#, #"\\"#, #"\/"#, #"\b"#, #"\f"#, #"\n"#, #"\r"#, #"\t"#, #"\u0000"#, #"\u001F"#,
            #"\u0022"#, #"\u005c"#, #"\u002F"#, #"\u007f"#, #"\u00E9"#, #"\u2014"#, #"\uD83D\uDE00"#, "plain text",
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let text = (0..<Int.random(in: 1...8, using: &generator)).map { _ in
                pieces.randomElement(using: &generator)!
            }
            .joined()
            let json = #"{"s":""# + text + #""}"#
            let root = try JSONDocument(parsing: Array(json.utf8)).root
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String]
            let decoded = try #require(object?["s"])
            #expect(root["s"]?.string == decoded, "\(json)")
            var expected = Array(#"{"s":"#.utf8)
            JSONEscaping.appendQuoted(decoded, to: &expected)
            expected.append(UInt8(ascii: "}"))
            #expect(root.canonicalBytes == expected, "\(json)")
        }
    }

    @Test func sortsLargeObjectsAndKeysThatArePrefixes() throws {
        let keys = (0..<60).map { "k\(($0 * 37) % 60)" } + ["", "k", "kk", "K"]
        let members = keys.map { #""\#($0)":1"# }.joined(separator: ",")
        let sorted = keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { #""\#($0)":1"# }
        #expect(try canonical("{" + members + "}") == "{" + sorted.joined(separator: ",") + "}")
    }

    @Test func sortsEscapedKeysByDecodedValue() throws {
        #expect(try canonical(#"{"\u0062":1,"a":2}"#) == #"{"a":2,"b":1}"#)
    }
}

@Suite("UTF-8 validation")
struct UTF8ValidationTests {
    @Test(
        arguments: [
            ([0xC0, 0xAF], 0),  // overlong
            ([0xE0, 0x80, 0xAF], 0),  // overlong
            ([0xED, 0xA0, 0x80], 0),  // surrogate
            ([0xF4, 0x90, 0x80, 0x80], 0),  // above U+10FFFF
            ([0x41, 0xE2, 0x82], 1),  // truncated
            ([0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0xDF], 8),  // Latin-1 ß after the fast path
            ([0x80], 0),  // lone continuation
        ] as [([UInt8], Int)]
    )
    func findsFirstInvalidByte(bytes: [UInt8], offset: Int) {
        #expect(UTF8Validation.firstInvalidByteOffset(in: bytes) == offset)
    }

    @Test func acceptsWellFormedText() {
        #expect(UTF8Validation.firstInvalidByteOffset(in: Array("Größe 😀 Ðorđe ñ — ok".utf8)) == nil)
    }
}

@Suite("Member index")
struct JSONMemberIndexTests {
    @Test func answersEveryLookupAsTheScanDoes() throws {
        let keys = (0..<45).map { "field\($0)" } + ["", "a", "tsCreated", "tsCreate"]
        let text = "{" + keys.enumerated().map { #""\#($1)":\#($0)"# }.joined(separator: ",") + "}"
        let object = try JSONDocument(parsing: Array(text.utf8)).root
        let index = JSONMemberIndex(object)
        for key in keys + ["missing", "field45", "tsCreatedX", "b"] {
            #expect(index[key]?.numberText == object[key]?.numberText, "\(key)")
        }
        #expect(index["tsCreate"]?.numberText == "48")
        #expect(index["missing"] == nil)
        #expect(index.text("a") == "46")
    }

    @Test func objectsWithEscapedKeysAndNonObjectsFallBack() throws {
        let wide = (0..<14).map { #""k\#($0)":0"# }.joined(separator: ",")
        let escaped = try JSONDocument(parsing: Array((#"{"\u0061":1,"b":{"c":2},"# + wide + "}").utf8)).root
        let index = JSONMemberIndex(escaped)
        #expect(index["a"]?.numberText == "1")
        #expect(index.object("b")?["c"]?.numberText == "2")
        let array = try JSONDocument(parsing: Array("[1]".utf8)).root
        #expect(JSONMemberIndex(array)["a"] == nil)
        let empty = try JSONDocument(parsing: Array("{}".utf8)).root
        #expect(JSONMemberIndex(empty)["a"] == nil)
    }
}

@Suite("Object writer")
struct JSONObjectWriterTests {
    let vendor = try! JSONDocument(
        parsing: Array(
            #"{"s":"a\/b","n":70.50,"blank":" \t","escapedBlank":"\n\u00a0","empty":"","nil":null,"o":{"z":1,"a":[true,"\u00e9"]},"t":"x"}"#
                .utf8
        )
    ).root

    @Test func membersFollowTheSetRules() {
        var writer = JSONObjectWriter()
        writer.text("s", vendor["s"])
        writer.text("n", vendor["n"])
        // Blank, empty, null, container and missing values leave their member out.
        writer.text("blank", vendor["blank"])
        writer.text("escapedBlank", vendor["escapedBlank"])
        writer.text("empty", vendor["empty"])
        writer.text("nil", vendor["nil"])
        writer.text("o", vendor["o"])
        writer.text("missing", vendor["missing"])
        writer.value("copied", vendor["o"])
        writer.value("absent", nil)
        writer.timestamp("at", UTCTimestamp(millisecondsSinceEpoch: 1_789_484_531_412))
        writer.string("quoted", "say \"hi\"")
        writer.integer("count", 3)
        let object = writer.finish()
        #expect(
            object.jsonText
                == #"{"s":"a/b","n":"70.50","copied":{"z":1,"a":[true,"é"]},"absent":null,"at":"2026-09-15T15:02:11.412Z","quoted":"say \"hi\"","count":3}"#
        )
        // The same rules as building the object member by member.
        var built = JSONObject()
        built.set("s", text: vendor.text("s"))
        built.set("n", text: vendor.text("n"))
        for name in ["blank", "escapedBlank", "empty", "nil", "o", "missing"] {
            built.set(name, text: vendor.text(name))
        }
        #expect(built["s"] == object["s"] && built["n"] == object["n"] && built.keys == ["s", "n"])
    }

    @Test func nestedObjectsArraysAndEmptyOnes() {
        var writer = JSONObjectWriter()
        writer.object("kept") { _ in }
        writer.object("omitted", omitIfEmpty: true) { $0.text("x", vendor["blank"]) }
        writer.object("inner", omitIfEmpty: true) { $0.text("t", vendor["t"]) }
        writer.array("list") { list in
            list.element { $0.textOrNull("field", vendor["missing"]) }
            list.element { $0.textOrNull("field", vendor["t"]) }
        }
        writer.array("none") { _ in }
        let object = writer.finish()
        #expect(object.jsonText == #"{"kept":{},"inner":{"t":"x"},"list":[{"field":null},{"field":"x"}],"none":[]}"#)
        #expect(!object.isEmpty && JSONObjectWriter().finish().isEmpty)
    }

    @Test func renderedObjectsReadAndChangeLikeBuiltOnes() {
        var writer = JSONObjectWriter()
        writer.string("a", "1")
        writer.number("b", "2")
        var rendered = writer.finish()
        let built: JSONObject = ["a": "1", "b": .number("2")]
        #expect(rendered == built)
        #expect(rendered.keys == ["a", "b"])
        rendered["c"] = .bool(true)
        rendered["a"] = nil
        #expect(rendered.jsonText == #"{"b":2,"c":true}"#)
    }
}

extension JSONObject {
    var jsonText: String { JSONValue.object(self).jsonText }
}

/// Keys a sender chooses: the canonical order, the duplicate check and lookups must agree with a plain reference
/// (decode every key, sort bytewise, compare sets) whatever the keys look like.
@Suite("Object keys against a reference")
struct ObjectKeyReferenceTests {
    /// A deterministic generator (SplitMix64) of keys with shared prefixes, escapes, zero bytes, non-ASCII.
    struct Keys {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        /// (the key as JSON text, the bytes it decodes to)
        mutating func key() -> (text: String, decoded: [UInt8]) {
            let prefixes = ["", "k", "ke", "timestamp", "fieldgate-prefix", String(repeating: "p", count: 40)]
            var text = prefixes[Int(next() % UInt64(prefixes.count))]
            var decoded = Array(text.utf8)
            for _ in 0..<Int(next() % 12) {
                switch next() % 9 {
                case 0:
                    text += #"\u0000"#
                    decoded.append(0)
                case 1:
                    text += #"\u00e9"#
                    decoded += [0xC3, 0xA9]
                case 2:
                    text += "é"
                    decoded += [0xC3, 0xA9]
                case 3:
                    text += #"\ud83d\ude00"#
                    decoded += Array("😀".utf8)
                case 4:
                    text += #"\""#
                    decoded.append(UInt8(ascii: "\""))
                default:
                    let byte = UInt8(ascii: "a") + UInt8(next() % 4)
                    text.unicodeScalars.append(Unicode.Scalar(byte))
                    decoded.append(byte)
                }
            }
            return (text, decoded)
        }
    }

    @Test(arguments: [1, 2, 5, 8, 9, 16, 17, 40, 300])
    func canonicalOrderDuplicatesAndLookupsMatchTheReference(count: Int) throws {
        var generator = Keys(state: UInt64(count))
        for _ in 0..<20 {
            var members: [(text: String, decoded: [UInt8])] = []
            var seen = Set<[UInt8]>()
            while members.count < count {
                let key = generator.key()
                if seen.insert(key.decoded).inserted { members.append(key) }
            }
            let text = "{" + members.enumerated().map { #""\#($1.text)":\#($0)"# }.joined(separator: ",") + "}"
            let root = try JSONDocument(parsing: Array(text.utf8)).root

            // Canonical order: bytewise on the decoded keys.
            var expected = Array("{".utf8)
            let order = members.indices.sorted { members[$0].decoded.lexicographicallyPrecedes(members[$1].decoded) }
            for (position, index) in order.enumerated() {
                if position > 0 { expected.append(UInt8(ascii: ",")) }
                JSONEscaping.appendQuoted(String(decoding: members[index].decoded, as: UTF8.self), to: &expected)
                expected += Array(":\(index)".utf8)
            }
            expected.append(UInt8(ascii: "}"))
            #expect(root.canonicalBytes == expected, "\(text)")

            // Lookups, scanned and indexed, find every key and nothing else.
            let index = JSONMemberIndex(root)
            for (position, member) in members.enumerated() {
                let key = String(decoding: member.decoded, as: UTF8.self)
                #expect(root[key]?.numberText == "\(position)", "\(member.text)")
                #expect(index[key]?.numberText == "\(position)", "\(member.text)")
                #expect(root[key + "x"] == nil || seen.contains(Array((key + "x").utf8)))
            }

            // A repeat of any key, escaped differently, is found.
            let repeated = members[count / 2]
            let plainSpelling = String(decoding: repeated.decoded, as: UTF8.self)
            var spelled: [UInt8] = []
            JSONEscaping.appendQuoted(plainSpelling, to: &spelled)
            let withRepeat = String(text.dropLast()) + "," + String(decoding: spelled, as: UTF8.self) + ":0}"
            do {
                _ = try JSONDocument(parsing: Array(withRepeat.utf8))
                Issue.record("no duplicate found in \(withRepeat)")
            } catch {
                guard case .duplicateKey = error.reason else {
                    Issue.record("\(error)")
                    continue
                }
            }
        }
    }

    @Test func escapedKeysCompareWithoutDecodingPastTheFirstDifference() throws {
        let root = try JSONDocument(parsing: Array(#"{"\u0061bc":1,"x\ud83d\ude00":2,"\u00e9":3}"#.utf8)).root
        #expect(root["abc"]?.numberText == "1")
        #expect(root["ab"] == nil)
        #expect(root["abcd"] == nil)
        #expect(root["x😀"]?.numberText == "2")
        #expect(root["x"] == nil)
        #expect(root["é"]?.numberText == "3")
    }

    @Test func aDuplicateKeyIsNamedShortened() {
        let key = String(repeating: "k", count: 10_000)
        do {
            _ = try JSONDocument(parsing: Array(#"{"\#(key)":1,"\#(key)":2}"#.utf8))
            Issue.record("accepted a duplicate key")
        } catch {
            #expect(error.reason == .duplicateKey(String(repeating: "k", count: 64) + "…"))
            #expect(error.description.utf8.count < 200)
        }
    }
}
