import FieldgateModel
import Testing

@Suite("Times")
struct UTCTimestampTests {
    @Test(arguments: [
        ("2026-09-14T06:31:07+00:00", "2026-09-14T06:31:07Z"),
        ("2026-09-14T06:31:07-04:00", "2026-09-14T10:31:07Z"),
        ("2026-09-14 23:30:00+0530", "2026-09-14T18:00:00Z"),
        ("2026-09-14T06:31:07.25Z", "2026-09-14T06:31:07.250Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"),
        ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"),
    ])
    func convertsOffsetsToUTC(text: String, utc: String) throws {
        #expect(try #require(UTCTimestamp(rfc3339: text)).rfc3339() == utc)
    }

    @Test(arguments: ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-09-14", "yesterday", "2026-09-14T06:31:07"])
    func refusesInvalidOrZonelessText(text: String) {
        #expect(UTCTimestamp(rfc3339: text) == nil)
    }

    @Test(arguments: [
        ("2019-01-23 01:23:45 PDT", "2019-01-23T08:23:45Z"),
        ("2026-09-18 08:14:52 MST", "2026-09-18T15:14:52Z"),
        ("2026-11-02 09:00:00 est", "2026-11-02T14:00:00Z"),
        ("2026-07-01 12:00:00 NDT", "2026-07-01T14:30:00Z"),
    ])
    func convertsKnownZoneAbbreviations(text: String, utc: String) throws {
        let local = try #require(LocalDateTime(parsing: text))
        #expect(local.timestamp?.rfc3339() == utc)
    }

    @Test func keepsUnknownAbbreviationsUnconverted() throws {
        let local = try #require(LocalDateTime(parsing: "2026-09-18 08:14:52 XYZT"))
        #expect(local.zoneAbbreviation == "XYZT")
        #expect(local.timestamp == nil)
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"), (-1, "1969-12-31T23:59:59.999Z"),
        (1_789_484_531_412, "2026-09-15T15:02:11.412Z"),
        (253_402_300_799_000, "9999-12-31T23:59:59Z"), (253_402_300_800_000, "10000-01-01T00:00:00Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00Z"),
    ])
    func writesEveryDigitInPlace(milliseconds: Int64, text: String) {
        let instant = UTCTimestamp(millisecondsSinceEpoch: milliseconds)
        #expect(instant.rfc3339() == text)
        var bytes = Array("x".utf8)
        instant.writeRFC3339(into: &bytes)
        #expect(bytes == Array(("x" + text).utf8))
    }

    @Test func formatsEpochMilliseconds() throws {
        #expect(UTCTimestamp(epochMilliseconds: 1_789_484_531_412)?.rfc3339() == "2026-09-15T15:02:11.412Z")
        #expect(UTCTimestamp(epochMilliseconds: 0) == nil)
        #expect(UTCTimestamp(millisecondsSinceEpoch: 0).rfc3339(alwaysMilliseconds: true) == "1970-01-01T00:00:00.000Z")
    }
}

@Suite("Status names")
struct StatusNameTests {
    @Test func foldsCaseAndWhitespace() {
        #expect(StatusName("  On   the\tWay ").normalized == "on the way")
        #expect(StatusName("ÉN ROUTE").normalized == "én route")
    }

    /// ASCII names take a byte-level path; it must agree with the Character-level rule on every ASCII character.
    @Test func asciiPathAgreesWithCharacterRule() {
        func reference(_ raw: String) -> String {
            raw.split(whereSeparator: \.isWhitespace).map { $0.lowercased() }.joined(separator: " ")
        }
        let everyASCII = String(decoding: (0..<128).map { UInt8($0) }, as: UTF8.self)
        for name in [
            everyASCII, "\r\nTech\u{0B}On\u{0C}Site\r\n", "ABC xyz 0-9_/[]", "   ", "", "In-Review", "ÉN  Route ",
        ] {
            #expect(StatusName(name).normalized == reference(name))
        }
        #expect(StatusName("\r\nTech\u{0B}On\u{0C}SITE ").normalized == "tech on site")
    }

    @Test func tableLooksUpNormalisedNames() {
        let table = StatusNameTable([.enRoute: ["En Route"], .onSite: ["on site"]])
        #expect(table["en   route"] == .enRoute)
        #expect(table["ON SITE"] == .onSite)
        #expect(table["arrived"] == nil)
    }

    @Test func vendorStatusIsNilWhenNothingIsKnown() {
        #expect(VendorStatus(code: nil, name: nil) == nil)
        #expect(VendorStatus(code: "20", name: nil)?.json == .object(["code": "20", "name": .null]))
    }

    @Test func constantTimeComparisonStillCompares() {
        #expect(SecretComparison.matches("s3cret", "s3cret"))
        #expect(!SecretComparison.matches("s3cret", "s3creT"))
        #expect(!SecretComparison.matches("s3cret", "s3cret "))
        #expect(!SecretComparison.matches("", "x"))
        #expect(SecretComparison.matchesAny("b", ["a", "b", "c"]))
        #expect(!SecretComparison.matchesAny("d", ["a", "b", "c"]))
    }

    @Test func headersCombineRepeatedFields() {
        var headers = RequestHeaders([("X-Token", "a")])
        headers.append(name: "x-token", value: "b")
        #expect(headers["X-TOKEN"] == "a, b")
        #expect(headers.values("x-token") == ["a", "b"])
    }
}

/// Status names are folded in one pass over their bytes; the result must be what the `Character`-based reduction
/// gave (case-folded with `lowercased()`, whitespace collapsed), except for a mark right after whitespace.
@Suite("Status name folding")
struct StatusNameFoldingTests {
    static func reference(_ raw: String) -> String {
        var result = ""
        var pendingSpace = false
        for character in raw {
            if character.isWhitespace {
                pendingSpace = !result.isEmpty
                continue
            }
            if pendingSpace { result.append(" ") }
            pendingSpace = false
            result.append(contentsOf: character.lowercased())
        }
        return result
    }

    static let fragments = [
        "On", "SITE", " ", "  ", "\t", "\r\n", "\n", "\u{00A0}", "\u{3000}", "\u{2003}", "É", "é", "ß", "İ", "Σ",
        "ΣΑΣ", "e\u{301}", " \u{301}", "\u{301}", "Ǆ", "ﬁ", "😀", "👩‍🔧", "Ω", "Å", "К", "ǅ", "x",
    ]

    @Test func everyMixFoldsAsTheCharacterVersionDid() {
        var state: UInt64 = 9
        for _ in 0..<5_000 {
            var text = ""
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            for _ in 0..<Int((state >> 33) % 12) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text += Self.fragments[Int((state >> 33) % UInt64(Self.fragments.count))]
            }
            // One difference by design: a space that a mark extends into one Character is whitespace as a
            // Character, but the byte-wise folding keeps the mark (no such name is in any table).
            let scalars = Array(text.unicodeScalars)
            let extendedSpace = zip(scalars, scalars.dropFirst()).contains { space, mark in
                space.properties.isWhitespace && space.properties.generalCategory != .control
                    && mark.properties.isGraphemeExtend
            }
            if extendedSpace { continue }
            #expect(StatusName(text).normalized == Self.reference(text), "\(text.debugDescription)")
            let bounded = StatusName(text, maximumLength: 8)
            #expect(bounded == (Self.reference(text).utf8.count <= 8 ? StatusName(text) : nil))
        }
    }

    @Test func aBoundedFoldStopsPastItsLimitButSkipsAnyWhitespace() {
        #expect(StatusName("  On \t  SITE\u{3000}", maximumLength: 7)?.normalized == "on site")
        #expect(StatusName("  On \t  SITE\u{3000}", maximumLength: 6) == nil)
        #expect(StatusName(String(repeating: " \u{00A0}", count: 50_000) + "X", maximumLength: 1)?.normalized == "x")
        let table = StatusNameTable(names: ["On Site": .onSite])
        #expect(table["ON \u{2003} site\u{3000}"] == .onSite)
        #expect(table["on site" + String(repeating: "x", count: 1_000_000)] == nil)
        #expect(table["ON SITÉ"] == nil)
    }

    /// The one place the byte-wise folding differs from `Character`'s: a mark after a space is kept.
    @Test func aMarkAfterWhitespaceIsKept() {
        #expect(StatusName(" \u{301}X").normalized == "\u{301}x")
        #expect(StatusName("A \u{301}B").normalized == "a \u{301}b")
    }
}
