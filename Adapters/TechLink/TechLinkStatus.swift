import FieldgateModel

/// TechLink's numeric work-order status codes and their documented names (CONTRACT §4, TechLink).
enum TechLinkStatus {
    /// Code → canonical status. Codes not listed are valid TechLink codes the gateway has no meaning for.
    static let codes: [Int: JobStatus] = [
        10: .created, 20: .open, 22: .dispatched, 26: .dispatched, 28: .dispatched, 30: .open, 40: .assigned,
        50: .accepted, 55: .open, 60: .scheduled, 70: .onSite, 72: .offSite, 77: .offSite, 78: .offSite,
        75: .incomplete, 76: .completed, 80: .inReview, 90: .approved, 92: .completed, 95: .completed,
        100: .closed, 105: .cancelled,
    ]

    /// TechLink's documented status names, mapped like their codes, plus the canonical vocabulary itself.
    static let names: StatusNameTable = {
        let documented: [String: Int] = [
            "Created": 10, "Open": 20, "Dispatched": 22, "Tech Available": 26, "Ready to Assign": 28, "Refused": 30,
            "Assigned": 40, "Accepted": 50, "Pending": 55, "Scheduled": 60, "Tech On Site": 70, "Tech Off Site": 72,
            "Incomplete": 75, "Off Site / Complete": 76, "Off Site / Parts Needed": 77,
            "Off Site / Return Trip Required": 78, "In-Review": 80, "In Review": 80, "Approved": 90,
            "Send Quote": 92, "Quote Sent": 95, "Closed": 100, "Cancelled": 105, "Canceled": 105,
        ]
        var table: [String: JobStatus] = [:]
        for status in JobStatus.allCases where status != .unknown {
            table[status.rawValue.replacingUnderscores] = status
        }
        for (name, code) in documented { table[name] = codes[code] }
        return StatusNameTable(names: table)
    }()

    /// The status a code/name pair means: the code wins over a disagreeing name; an unknown code is `unknown`;
    /// nil when neither was sent.
    static func resolve(code: String?, name: String?) -> JobStatus? {
        if let code {
            let digits =
                code.utf8.contains(where: { $0.isASCIIWhitespace || $0 >= 0x80 })
                ? code.filter { !$0.isWhitespace } : code
            guard let number = Int(digits) else { return .unknown }
            return codes[number] ?? .unknown
        }
        if let name { return names[name] ?? .unknown }
        return nil
    }
}

extension String {
    var replacingUnderscores: String {
        String(map { $0 == "_" ? " " : $0 })
    }

}
