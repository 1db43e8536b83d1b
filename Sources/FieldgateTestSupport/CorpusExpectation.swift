/// What a corpus line's note says should happen: `[expect 202 job.created status=open vendorStatus=OPEN jobId=653]`,
/// `[expect 202 duplicate of line 4]` or `[expect 401: bad secret]`.
package struct CorpusExpectation: Sendable, CustomStringConvertible {
    package var http: Int
    package var duplicateOfLine: Int?
    package var type: String?
    package var fields: [String: String] = [:]
    package var text: String
    /// For an error, the note's reason (`bad secret`) as written.
    package var reason: String?

    /// The problem codes each reason phrase of the corpus notes stands for. A reason missing here fails the corpus
    /// tests, so a new corpus cannot slip through with its error codes unchecked. The corpus says "unknown event"
    /// also for a body with no `event` key at all, which the gateway reports as the more precise `missing-field`.
    package static let problemCodes: [String: Set<String>] = [
        "unsupported media type": ["unsupported-media-type"],
        "bad secret": ["bad-credentials"],
        "bad X-Token": ["bad-credentials"],
        "bad custom header": ["bad-credentials"],
        "unknown tenant": ["unknown-tenant"],
        "account mismatch": ["account-mismatch"],
        "JSON syntax": ["json-syntax"],
        "not UTF-8": ["invalid-utf8"],
        "empty body": ["empty-body"],
        "top-level not an object": ["not-an-object"],
        "data is not JSON": ["data-not-json"],
        "body too large": ["body-too-large"],
        "unknown event": ["unknown-event", "missing-field"],
        "unknown action": ["unknown-action"],
        "unsupported entity/trigger": ["unsupported-route"],
        "missing workorder_id": ["missing-field"],
        "missing id": ["missing-field"],
        "missing action": ["missing-field"],
        "entity without id": ["missing-field"],
    ]

    /// The problem codes the note allows, or nil for a 202 or a reason not in ``problemCodes``.
    package var problemCodes: Set<String>? { reason.flatMap { Self.problemCodes[$0] } }

    package init?(note: String) {
        guard note.hasPrefix("[expect "), let close = note.firstIndex(of: "]") else { return nil }
        text = String(note[..<close].dropFirst("[expect ".count))
        let words = text.split(separator: " ", maxSplits: 1).map(String.init)
        guard let status = Int(words[0].trimmingCharacters(in: ":")) else { return nil }
        http = status
        if status != 202, words.count > 1 { reason = words[1] }
        guard status == 202, words.count > 1 else { return }
        let rest = words[1]
        if rest.hasPrefix("duplicate of line ") {
            duplicateOfLine = Int(rest.dropFirst("duplicate of line ".count))
            return
        }
        // `type key=value key=value…`; values may contain spaces (vendorStatus=New Alarm).
        let typeEnd = rest.firstIndex(of: " ") ?? rest.endIndex
        type = String(rest[..<typeEnd])
        let pairs = rest[typeEnd...]
        let keys = ["status", "vendorStatus", "jobId"]
        for key in keys {
            guard let start = pairs.firstRange(of: " \(key)=") else { continue }
            var value = pairs[start.upperBound...]
            for other in keys where other != key {
                if let next = value.firstRange(of: " \(other)=") { value = value[..<next.lowerBound] }
            }
            fields[key] = String(value)
        }
    }

    package var description: String { text }
}

extension String {
    package func trimmingCharacters(in set: Character) -> String {
        String(self.filter { $0 != set })
    }
}
