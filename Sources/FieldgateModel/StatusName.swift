/// A vendor status name reduced to the form status tables are keyed by.
///
/// Portals and dispatchers type status names by hand, so "On  Site", " on site" and "ON SITE" are one name:
/// case-folded, trimmed, inner whitespace collapsed to single spaces.
public struct StatusName: Hashable, Sendable, CustomStringConvertible {
    public let normalized: String

    public init(_ raw: String) {
        var result = ""
        result.reserveCapacity(raw.utf8.count)
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
        normalized = result
    }

    public var description: String { normalized }
}

/// A lookup from normalised status names to canonical statuses.
public struct StatusNameTable: Sendable {
    private var entries: [StatusName: JobStatus]

    public init(_ entries: [JobStatus: [String]]) {
        var table: [StatusName: JobStatus] = [:]
        for (status, names) in entries {
            for name in names { table[StatusName(name)] = status }
        }
        self.entries = table
    }

    public init(names: [String: JobStatus]) {
        var table: [StatusName: JobStatus] = [:]
        for (name, status) in names { table[StatusName(name)] = status }
        entries = table
    }

    public subscript(name: String) -> JobStatus? { entries[StatusName(name)] }

    public var isEmpty: Bool { entries.isEmpty }
}
