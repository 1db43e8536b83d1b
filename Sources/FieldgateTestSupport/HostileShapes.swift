package import FieldgateModel

/// Request bodies shaped to make a parser do more than linear work, each beside a plain body of the same size.
///
/// CONTRACT §1 promises that no request shape costs more than a small constant factor over a plain body of the
/// same size. These shapes are the ones that broke that promise once (quadratic note rendering, an insertion sort
/// of keys, unseeded hash tables, per-pair allocations in form decoding) and their relatives. The Hostile
/// benchmark suite times each shape against its plain twin; the tests check that each one still gets the outcome
/// the contract gives it. The plain twin is the same vendor's ordinary event padded with ordinary records (the
/// density of tokens a real payload has) to exactly the pathological body's length.
package struct HostileShape: Sendable {
    package var name: String
    package var vendor: String
    package var tenant: String
    /// `workflow-instance-logs` for TrackTik, empty for the others.
    package var routeSuffix: String
    package var body: [UInt8]
    /// An ordinary body of the vendor, exactly as long as ``body``.
    package var plain: [UInt8]
    /// What the pipeline answers: 202 for every shape that is legal input, else the contract's status.
    package var expectedStatus: Int

    package var contentType: String {
        vendor == "hellotracks" ? "application/x-www-form-urlencoded" : "application/json"
    }

    package var path: String {
        "/webhooks/\(vendor)/\(tenant)" + (routeSuffix.isEmpty ? "" : "/\(routeSuffix)")
    }

    /// Headers that pass the tenants of ``HostileShapes/configurationYAML``.
    package var headers: RequestHeaders {
        var headers = RequestHeaders([("Content-Type", contentType)])
        if vendor == "tracktik" { headers.append(name: "TrackTik-Callout-Secret", value: HostileShapes.trackTikSecret) }
        return headers
    }
}

package enum HostileShapes {
    /// Every shape is built to about this size: half the default body limit, so even the form encodings fit.
    package static let defaultSize = 512 * 1024

    package static let trackTikSecret = "hostile-secret"

    /// One tenant per vendor, with credentials the shapes' headers carry.
    package static let configurationYAML = """
        tenants:
          - {vendor: tracktik, tenant: hostile-tracktik, secretHeader: {name: TrackTik-Callout-Secret, value: \(trackTikSecret)}}
          - {vendor: hellotracks, tenant: hostile-hellotracks}
          - {vendor: techlink, tenant: hostile-techlink}
        """

    /// All shapes at about `size` bytes.
    package static func all(size: Int = defaultSize) -> [HostileShape] {
        techLinkShapes(size: size) + hellotracksShapes(size: size) + trackTikShapes(size: size)
    }

    // MARK: TechLink (JSON)

    static func techLinkShapes(size: Int) -> [HostileShape] {
        func note(_ name: String, _ unit: String) -> HostileShape {
            let text = repeated(unit, toBytes: size - 200)
            return techLink(name, body: techLinkNote(jsonString(text)))
        }
        var shapes: [HostileShape] = [
            // 40,000 of these took 51 s: every `<` scanned to the end for a `>` that never came.
            note("note-unclosed-tags", "<a"),
            note("note-tags", "<p>ok</p><br/><li>"),
            note("note-entities", "&amp;&#8217;&nbsp;&#x41;&bogus;"),
            note("note-unterminated-entities", "&abcdefghij "),
            note("note-whitespace", " \u{00A0}<br> \n\r\n  x"),
        ]

        // Object keys: the canonical form sorts them, the parser checks them for repeats.
        let keyCount = size / 14
        let descending = (0..<keyCount).reversed().map { "k" + padded($0, width: 6) }
        shapes.append(
            techLink("keys-descending", body: techLinkStatusChange(extraMembers: descending.map { ($0, "1") }))
        )
        let shared = shuffled((0..<keyCount / 2).map { "fieldgate-prefix" + padded($0, width: 6) })
        shapes.append(
            techLink("keys-shared-16-byte-prefix", body: techLinkStatusChange(extraMembers: shared.map { ($0, "1") }))
        )
        let longPrefix = String(repeating: "p", count: 1024)
        let long = shuffled((0..<size / 1040).map { longPrefix + padded($0, width: 6) })
        shapes.append(
            techLink("keys-shared-1-KiB-prefix", body: techLinkStatusChange(extraMembers: long.map { ($0, "1") }))
        )
        let escapedKeys = shuffled((0..<size / 20).map { #"\u006b"# + padded($0, width: 6) })
        shapes.append(techLink("keys-escaped", body: techLinkStatusChange(extraMembers: escapedKeys.map { ($0, "1") })))
        shapes.append(
            techLink("keys-fnv-colliding", body: techLinkStatusChange(history: fnvCollidingObjects(size: size)))
        )

        // Structure.
        let nest = String(repeating: "[", count: 62) + "1" + String(repeating: "]", count: 62)
        shapes.append(
            techLink("deep-legal-nesting", body: techLinkStatusChange(history: repeatedList(nest, toBytes: size)))
        )
        shapes.append(techLink("tiny-objects", body: techLinkStatusChange(history: repeatedList("{}", toBytes: size))))
        shapes.append(techLink("tiny-arrays", body: techLinkStatusChange(history: repeatedList("[]", toBytes: size))))
        let escapes = #"\n\u00e9\"\\\/\ud83d\ude00\t"#
        shapes.append(
            techLink(
                "escapes-everywhere",
                body: techLinkStatusChange(
                    history: repeatedList("\"\(escapes)\":\"\(escapes)\"", toBytes: size, object: true)
                )
            )
        )
        shapes.append(
            techLink(
                "huge-number",
                body: techLinkStatusChange(extraMembers: [
                    ("amount", "1" + String(repeating: "7", count: size - 300) + ".5e-3")
                ])
            )
        )
        // Status names are folded (case, whitespace) before the table lookup; no code, so the name decides.
        let blank = repeated(" \t \u{3000}\u{00A0}", toBytes: size / 2 - 100)
        shapes.append(
            techLink(
                "status-name-whitespace",
                body: techLinkStatusChange(newStatus: jsonString(blank + "On" + blank + "Site"), code: false)
            )
        )
        let accented = repeated("É ", toBytes: size - 300)
        shapes.append(
            techLink(
                "status-name-non-ascii",
                body: techLinkStatusChange(newStatus: jsonString(accented), code: false)
            )
        )
        return shapes
    }

    static func techLink(_ name: String, body: String, expectedStatus: Int = 202) -> HostileShape {
        let bytes = Array(body.utf8)
        return HostileShape(
            name: "techlink-" + name,
            vendor: "techlink",
            tenant: "hostile-techlink",
            routeSuffix: "",
            body: bytes,
            plain: Array(plainTechLink(size: bytes.count).utf8),
            expectedStatus: expectedStatus
        )
    }

    static func techLinkNote(_ note: String) -> String {
        #"{"event":"work order note added","workorder_id":"184233","data":{"workorder_id":"184233","note_id":"77","note":"#
            + note + #","author":"Nora Blake","created":"2019-01-23 01:23:45 PDT"}}"#
    }

    static func techLinkStatusChange(
        newStatus: String = #""Dispatched""#,
        code: Bool = true,
        extraMembers: [(String, String)] = [],
        history: String? = nil
    ) -> String {
        var text = #"{"event":"work order status change","workorder_id":"184233","old_status_code":"20","#
        text += #""old_status":"Open","new_status":"# + newStatus
        if code { text += #","new_status_code":"22""# }
        for (key, value) in extraMembers { text += ",\"\(key)\":\(value)" }
        if let history { text += #","history":"# + history }
        return text + "}"
    }

    /// The most frequent TechLink event with a history of ordinary records, padded to exactly `size` bytes.
    static func plainTechLink(size: Int) -> String {
        padded(
            prefix: String(techLinkStatusChange().dropLast()) + #","history":"#,
            record: ordinaryRecord,
            suffix: "}",
            size: size
        )
    }

    // MARK: Hellotracks (forms)

    static func hellotracksShapes(size: Int) -> [HostileShape] {
        var shapes: [HostileShape] = []
        let job = percentEncoded("[" + ordinaryJob(id: "6aa95df39c41a7e2b5d0f318") + "]")
        let head = "account=rapidfix.hvac&id=6aa95df39c41a7e2b5d0f318&action=jobupdated&reason=jobupdated&data=" + job
        // 60,000 parameters the adapter never reads, each once.
        var unread = head
        var index = 0
        while unread.utf8.count < size - 16 {
            unread += "&p\(index)=v"
            index += 1
        }
        shapes.append(hellotracks("form-unread-parameters", body: unread))
        // The most pairs a byte count allows: `a&a&a&…`, each pair a key without a value.
        shapes.append(
            hellotracks("form-tiny-pairs", body: head + "&" + repeated("a&", toBytes: size - head.utf8.count - 1))
        )
        // `data` with every byte percent-encoded, spaces as `+`.
        let everyByte = ordinaryJobs(toBytes: size / 3 - 64).utf8.map { byte in
            byte == 0x20 ? "+" : "%" + hexByte(byte)
        }.joined()
        shapes.append(
            hellotracks(
                "form-every-byte-escaped",
                body: "account=rapidfix.hvac&id=6aa95df39c41a7e2b5d0f318&action=jobupdated&data=" + everyByte
            )
        )
        // A job object with tens of thousands of members: the mapping reads ~35 of them through the member index.
        var members: [String] = []
        var length = 0
        var member = 0
        while length < size / 3 - 200 {
            let text = "\"m\(member)\":\(member)"
            members.append(text)
            length += text.utf8.count + 1
            member += 1
        }
        let wide =
            "[{\"id\":\"6aa95df39c41a7e2b5d0f318\",\"worker\":\"luis.ortega\"," + members.joined(separator: ",") + "}]"
        shapes.append(
            hellotracks(
                "job-wide",
                body: "account=rapidfix.hvac&id=6aa95df39c41a7e2b5d0f318&action=jobupdated&data=" + percentEncoded(wide)
            )
        )
        return shapes
    }

    static func hellotracks(_ name: String, body: String, expectedStatus: Int = 202) -> HostileShape {
        let bytes = Array(body.utf8)
        return HostileShape(
            name: "hellotracks-" + name,
            vendor: "hellotracks",
            tenant: "hostile-hellotracks",
            routeSuffix: "",
            body: bytes,
            plain: Array(plainHellotracks(size: bytes.count).utf8),
            expectedStatus: expectedStatus
        )
    }

    /// A `jobupdated` callback whose `data` holds ordinary jobs, padded to exactly `size` bytes.
    static func plainHellotracks(size: Int) -> String {
        let head = "account=rapidfix.hvac&id=6aa95df39c41a7e2b5d0f318&action=jobupdated&reason=jobupdated&data="
        // Percent-encoding is per byte, so the encoded array is the encoded jobs joined by an encoded comma.
        var body = head + percentEncoded("[") + percentEncoded(ordinaryJob(id: "6aa95df39c41a7e2b5d0f318"))
        let close = percentEncoded("]")
        let pad = "&pad="
        var index = 1
        while true {
            let next = percentEncoded(",") + percentEncoded(ordinaryJob(id: "job\(index)"))
            guard body.utf8.count + next.utf8.count + close.utf8.count + pad.utf8.count < size else { break }
            body += next
            index += 1
        }
        body += close + pad
        return body + String(repeating: "x", count: max(size - body.utf8.count, 0))
    }

    // MARK: TrackTik (JSON)

    static func trackTikShapes(size: Int) -> [HostileShape] {
        var shapes: [HostileShape] = []
        let blank = repeated(" \t \u{2003}", toBytes: size / 2 - 200)
        shapes.append(
            trackTik(
                "status-name-whitespace",
                body: trackTikLog(statusName: jsonString(blank + "En" + blank + "Route"))
            )
        )
        var members: [String] = []
        var length = 0
        var member = 0
        while length < size - 600 {
            let text = "\"f\(member)\":\"v\""
            members.append(text)
            length += text.utf8.count + 1
            member += 1
        }
        shapes.append(
            trackTik(
                "entity-wide",
                body: trackTikLog(statusName: #""En Route""#, extra: members.joined(separator: ","))
            )
        )
        return shapes
    }

    static func trackTik(_ name: String, body: String, expectedStatus: Int = 202) -> HostileShape {
        let bytes = Array(body.utf8)
        return HostileShape(
            name: "tracktik-" + name,
            vendor: "tracktik",
            tenant: "hostile-tracktik",
            routeSuffix: "workflow-instance-logs",
            body: bytes,
            plain: Array(plainTrackTik(size: bytes.count).utf8),
            expectedStatus: expectedStatus
        )
    }

    static func trackTikLog(statusName: String, extra: String? = nil) -> String {
        var text = #"{"id":2181,"createdOn":"2026-09-14T06:31:07+00:00","timeZone":"America\/New_York","#
        text += #""workflowInstance":{"id":590,"dispatchTask":653,"currentStatus":11},"#
        text += #""status":{"id":11,"name":"# + statusName + #","tag":"En Route"}"#
        if let extra { text += "," + extra }
        return text + "}"
    }

    static func plainTrackTik(size: Int) -> String {
        padded(
            prefix: String(trackTikLog(statusName: #""En Route""#).dropLast()) + #","history":"#,
            record: ordinaryRecord,
            suffix: "}",
            size: size
        )
    }

    // MARK: Building blocks

    /// A record as vendors send them: a dozen members, short strings, numbers, a nested object.
    static let ordinaryRecord =
        #"{"workorder_id":"184233","status":"Open","status_code":"20","tech_name":"Luis Ortega","tech_phone":"+1 408-555-0199","note":"Compressor relay replaced; unit cooling at 54 F.","modified":"2019-01-23 01:23:45 PDT","site":{"id":"S-1180","name":"Meridian Park, Bldg C"},"amount":125.5,"internal":false}"#

    static func ordinaryJob(id: String) -> String {
        #"{"id":""# + id
            + #"","uidSecondary":"RFX-WO-55120","type":0,"teamId":0,"destinationName":"RTU-3 not cooling","destinationLat":37.33548,"destinationLng":-121.89399,"destinationText":"1735 Technology Dr, San Jose, CA 95110","textDispatcher":"Tenant reports 82 F in suite.","contactName":"Priya Raman","contactPhone":"+1 408-555-0199","day":20260915,"priority":8,"onSiteSeconds":1800,"orderId":55120,"worker":"luis.ortega","workerName":"Luis Ortega","tsCreated":1789484531412,"tsSaved":1789484762947,"tsAssigned":1789484670118,"tsAccepted":1789484762947,"tsRejected":0,"tsCheckIn":0,"tsCheckOut":0,"tsDoneSuccess":0,"tsDoneFailed":0}"#
    }

    static func ordinaryJobs(toBytes count: Int) -> String {
        var jobs = [ordinaryJob(id: "6aa95df39c41a7e2b5d0f318")]
        var length = jobs[0].utf8.count + 2
        while length < count {
            let job = ordinaryJob(id: "job\(jobs.count)")
            jobs.append(job)
            length += job.utf8.count + 1
        }
        return "[" + jobs.joined(separator: ",") + "]"
    }

    /// `prefix` + `[record,record,…]` + a padding member + `suffix`, exactly `size` bytes long.
    static func padded(prefix: String, record: String, suffix: String, size: Int) -> String {
        var records: [String] = []
        var length = prefix.utf8.count + suffix.utf8.count + 2 + #","pad":"""#.utf8.count
        while length + record.utf8.count + 1 < size {
            records.append(record)
            length += record.utf8.count + 1
        }
        var text = prefix + "[" + records.joined(separator: ",") + "]"
        let padding = size - text.utf8.count - suffix.utf8.count - #","pad":"""#.utf8.count
        text += #","pad":""# + String(repeating: "x", count: max(padding, 0)) + "\""
        return text + suffix
    }

    /// A JSON array (or object) of `element` repeated until it holds about `count` bytes.
    static func repeatedList(_ element: String, toBytes count: Int, object: Bool = false) -> String {
        var parts: [String] = []
        var length = 0
        var index = 0
        while length < count {
            // Object members need distinct keys; prefix each with its number.
            let part = object ? "\"\(index)\(element.dropFirst())" : element
            parts.append(part)
            length += part.utf8.count + 1
            index += 1
        }
        return (object ? "{" : "[") + parts.joined(separator: ",") + (object ? "}" : "]")
    }

    /// Arrays of 256-member objects whose keys all land in one bucket of the unseeded FNV-1a table the
    /// duplicate-key check used before it hashed with a seed: 256² comparisons per object there.
    static func fnvCollidingObjects(size: Int) -> String {
        var keys: [String] = []
        var candidate = 0
        while keys.count < 256 {
            let key = "c\(candidate)"
            candidate += 1
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01b3 }
            if (hash ^ (hash >> 29)) & 511 == 0 { keys.append(key) }
        }
        let object = "{" + keys.map { "\"\($0)\":0" }.joined(separator: ",") + "}"
        return repeatedList(object, toBytes: size)
    }

    static func repeated(_ unit: String, toBytes count: Int) -> String {
        String(repeating: unit, count: max(1, count / max(unit.utf8.count, 1)))
    }

    static func padded(_ number: Int, width: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// A fixed permutation (SplitMix64, seed 11): shapes are the same on every run.
    static func shuffled<T>(_ elements: [T]) -> [T] {
        var elements = elements
        var state: UInt64 = 11
        for i in stride(from: elements.count - 1, to: 0, by: -1) {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            elements.swapAt(i, Int(z % UInt64(i + 1)))
        }
        return elements
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var output: [UInt8] = []
        JSONEscaping.appendQuoted(text, to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Form encoding as Hellotracks does it: unreserved bytes as they are, space as `+`, the rest `%XX`.
    static func percentEncoded(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            case 0x20: output += "+"
            default: output += "%" + hexByte(byte)
            }
        }
        return output
    }

    static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
    }
}
