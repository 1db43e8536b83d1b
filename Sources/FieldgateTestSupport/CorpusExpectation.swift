/// What a corpus line's note says should happen: `[expect 202 job.created status=open vendorStatus=OPEN jobId=653]`,
/// `[expect 202 duplicate of line 4]` or `[expect 401: bad secret]`.
public struct CorpusExpectation: Sendable, CustomStringConvertible {
    public var http: Int
    public var duplicateOfLine: Int?
    public var type: String?
    public var fields: [String: String] = [:]
    public var text: String

    public init?(note: String) {
        guard note.hasPrefix("[expect "), let close = note.firstIndex(of: "]") else { return nil }
        text = String(note[..<close].dropFirst("[expect ".count))
        let words = text.split(separator: " ", maxSplits: 1).map(String.init)
        guard let status = Int(words[0].trimmingCharacters(in: ":")) else { return nil }
        http = status
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

    public var description: String { text }
}

extension String {
    public func trimmingCharacters(in set: Character) -> String {
        String(self.filter { $0 != set })
    }
}

