package import FieldgateCore
import FieldgateModel

/// `fieldgate corpus generate`: realistic corpora of any size from the shapes of a seed corpus, the same for the
/// same seed on every machine, written one line at a time (ten million lines need no memory).
///
/// Each job is a run of consecutive accepted requests of one vendor and tenant from the seed (the dev corpus is laid
/// out job by job), with its IDs rewritten to a new job (`-r<n>`, see ``IDVariation``). Retries repeat a line byte
/// for byte; bad inputs are a wrong media type (415) or, for JSON vendors, a truncated body (400). Every line's note
/// says what the gateway should answer.
package struct CorpusGenerator: Sendable {
    package struct Options: Sendable {
        package var events: Int
        package var seed: UInt64
        /// Share of lines that repeat an earlier line (a vendor retrying): answered `duplicate`.
        package var duplicateRate = 0.05
        /// Share of lines that are bad inputs.
        package var badRate = 0.02
        package init(events: Int, seed: UInt64) {
            self.events = events
            self.seed = seed
        }
    }

    /// Accepted seed requests, grouped by vendor and tenant, in seed order.
    let groups: [[CorpusRequest]]
    package let options: Options

    /// Nil when the seed has no request the gateway accepts as new.
    package init?(seed requests: [CorpusRequest], options: Options) {
        var groups: [String: [CorpusRequest]] = [:]
        var order: [String] = []
        // Only shapes whose IDs can be rewritten: any other would repeat one event's content job after job.
        for request in requests
        where Self.isNewEvent(request) && IDVariation.vary(request, repetition: 1).body != request.body {
            let key = "\(request.vendor ?? "")/\(request.tenant ?? "")"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(request)
        }
        guard !order.isEmpty else { return nil }
        self.groups = order.map { groups[$0]! }
        self.options = options
    }

    /// A seed line the gateway accepts as a new event: by its note when it has one, otherwise any POST with a body.
    static func isNewEvent(_ request: CorpusRequest) -> Bool {
        guard request.method == "POST", !request.body.isEmpty, request.oversizeBytes == nil else { return false }
        guard let note = request.note, note.hasPrefix("[expect ") else { return true }
        return note.hasPrefix("[expect 202") && !note.contains("duplicate of line")
    }

    /// Calls `emit` with each generated request, `options.events` of them, line numbers from 1.
    package func generate(_ emit: (CorpusRequest) throws -> Void) rethrows {
        var random = SeededGenerator(seed: options.seed)
        var line = 0
        var job = 0
        while line < options.events {
            job += 1
            let group = groups[Int(random.next() % UInt64(groups.count))]
            let length = min(group.count, 2 + Int(random.next() % 5))
            let start = Int(random.next() % UInt64(group.count))
            for step in 0..<length where line < options.events {
                let template = group[(start + step) % group.count]
                var request = IDVariation.vary(template, repetition: job)
                let roll = Double(random.next() % 1_000_000) / 1_000_000
                if roll < options.badRate {
                    request = Self.bad(request, variant: random.next())
                    line += 1
                    try emit(request)
                    continue
                }
                request.note = "[expect 202] generated job \(job) step \(step + 1)"
                line += 1
                try emit(request)
                let original = line
                if line < options.events, Double(random.next() % 1_000_000) / 1_000_000 < options.duplicateRate {
                    request.note = "[expect 202 duplicate of line \(original)] generated retry"
                    line += 1
                    try emit(request)
                }
            }
        }
    }

    /// A bad variant the gateway refuses after authentication (so it is quarantined).
    static func bad(_ request: CorpusRequest, variant: UInt64) -> CorpusRequest {
        var bad = request
        let isJSON = (request.headers["Content-Type"] ?? "").hasPrefix("application/json")
        if isJSON, variant % 2 == 0 {
            bad.body = Array(request.body.dropLast())
            bad.note = "[expect 400: JSON syntax] generated truncated body"
        } else {
            var headers = RequestHeaders()
            for field in request.headers {
                headers.append(
                    name: field.name,
                    value: field.name.equalsIgnoringASCIICase("Content-Type") ? "text/plain" : field.value
                )
            }
            bad.headers = headers
            bad.note = "[expect 415: unsupported media type] generated wrong media type"
        }
        return bad
    }
}
